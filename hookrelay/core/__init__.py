"""hookrelay's pure core: commit messages, source_commit bodies, webhooks, Tracker answers,
back-off.

Nothing in this package does I/O (no sockets, files, clock, environment or subprocess): it takes
bytes, strings and mappings, with ``now`` and random sources passed in, and returns frozen
dataclasses. ``tests/core/test_purity.py`` enforces its imports.
"""
