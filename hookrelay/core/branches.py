"""Which branches relay: the one rule for ``HOOKRELAY_BRANCHES``, a route's ``branches``, the
hooks' ``hookrelay.branches`` and ``hookrelay backfill --branch``.

A branch relays when no glob is given, or when its name (``main``, not ``refs/heads/main``)
matches one of the globs, case-sensitively, as ``fnmatch`` reads them (``release/*``).
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

__all__ = ["branch_relays"]


def branch_relays(branch: str, globs: Iterable[str]) -> bool:
    """Whether commits on ``branch`` are relayed under ``globs`` (none: every branch)."""
    patterns = tuple(globs)
    return not patterns or any(fnmatchcase(branch, pattern) for pattern in patterns)
