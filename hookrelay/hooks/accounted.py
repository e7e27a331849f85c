"""The ref tips post-receive has already accounted for, kept in ``<state>/accounted``.

*New to the repository* is decided against this record, not against the refs as they stand:
two pushes that land at the same moment each see the other's ref already moved, and a branch
deleted and pushed again is no longer a ref at all. The record holds, newest last, one commit
hash a line: the tips this hook has seen pushed (and the old tips of refs it saw move or be
deleted). The first run seeds it from the refs as they stand, minus the refs that run updated.

The record is read and rewritten under ``<state>/accounted.lock``, which a hook waits for (a
few seconds at most; it is held only while listing commits, never while sending). Tips that are
still the tip of some ref are kept forever; the rest (deleted branches, rewritten history) are
kept for the most recent ``KEEP_OTHERS``. The shell hooks keep the same file the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path

from hookrelay.hooks import dirlock

__all__ = ["KEEP_OTHERS", "LOCK_WAIT_SECONDS", "locked", "read_record", "write_record"]

KEEP_OTHERS = 1000
LOCK_WAIT_SECONDS = 10.0
_HEX = frozenset("0123456789abcdef")


def _is_hash(text: str) -> bool:
    return len(text) >= 40 and set(text) <= _HEX and text.strip("0") != ""


def locked(state: Path) -> AbstractContextManager[bool]:
    """Hold ``<state>/accounted.lock`` (True), or go on without it after a bounded wait (False):
    a hook that cannot get the lock would rather risk a double post than lose a commit."""
    return dirlock.held(state / "accounted.lock", wait=LOCK_WAIT_SECONDS)


def read_record(state: Path) -> list[str] | None:
    """The accounted tips, oldest first; ``None`` when there is no record yet (first run)."""
    try:
        text = (state / "accounted").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    return [line for line in text.split() if _is_hash(line)]


def write_record(state: Path, tips: Iterable[str], live: Iterable[str]) -> None:
    """Write ``tips`` (oldest first, repeats allowed) back: each hash once, at its newest place;
    the ``live`` ones (current ref tips) always, the others only the newest ``KEEP_OTHERS``."""
    newest: dict[str, None] = {}
    for tip in tips:
        if _is_hash(tip):
            newest.pop(tip, None)
            newest[tip] = None
    alive = set(live)
    ordered = list(newest)
    others = [tip for tip in ordered if tip not in alive]
    kept_others = set(others[-KEEP_OTHERS:])
    kept = [tip for tip in ordered if tip in alive or tip in kept_others]
    temporary = state / f"accounted.{os.getpid()}"
    temporary.write_text("".join(f"{tip}\n" for tip in kept), encoding="ascii")
    temporary.replace(state / "accounted")
