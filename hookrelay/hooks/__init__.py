"""The repository hooks: read commits from git or Subversion, spool them, send them to Tracker.

Modules, one job each: ``commit_text`` (raw commit text to a ``SourceCommit``, the rules the
shell hooks share), ``settings`` (what a hook is configured with), ``git_reader`` and
``svn_reader`` (the repositories, each a ``HookSystem``; only ``git_reader`` imports GitPython),
``spool`` (commits waiting for Tracker), ``dirlock`` (the hooks' one lock), ``hook_log`` (the
log file), ``relay`` (one pass over the spool), ``deadline`` (a whole-request deadline per post),
``run`` (the one driver behind ``hookrelay hook …``) and ``installer`` (``hookrelay hooks
install|uninstall``). The standalone POSIX sh hooks live in the repository's top-level
``hooks/`` folder, built by ``scripts/build-hooks`` from ``hooks/src/`` and shipped in the wheel
as ``hookrelay/hooks/scripts``.
"""
