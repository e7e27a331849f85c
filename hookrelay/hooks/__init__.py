"""The repository hooks: read commits from git or Subversion, spool them, send them to Tracker.

Modules, one job each: ``commit_text`` (raw commit text to a ``SourceCommit``, the rules the
shell hooks share), ``settings`` (what a hook is configured with), ``git_reader`` and
``svn_reader`` (the repositories), ``spool`` (commits waiting for Tracker), ``hook_log`` (the
log file), ``relay`` (one pass over the spool), ``run`` (what ``hookrelay hook …`` does) and
``installer`` (``hookrelay hooks install|uninstall``). The standalone POSIX sh hooks live in the
repository's top-level ``hooks/`` folder, shipped in the wheel as ``hookrelay/hooks/scripts``.
"""
