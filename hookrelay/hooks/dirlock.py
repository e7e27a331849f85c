"""The hooks' one lock: a directory holding the holder's process id (``<lock>/pid``).

``mkdir`` is atomic everywhere, POSIX sh included, so the shell hooks take the same locks the
same way (``hr_take_lock`` in ``hooks/src/common.sh``). A lock whose holder has died (killed,
machine reset) is taken over; a holder that is another user's live process (a shared
repository) counts as alive.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["held", "release", "try_take"]


def try_take(lock: Path) -> bool:
    """Take ``lock`` now; False when a live process holds it (or is taking it right now)."""
    if _make(lock):
        return True
    try:
        holder = int((lock / "pid").read_text().strip())
    except (OSError, ValueError):
        return False  # being taken right now, or written by something we do not know
    if _alive(holder):
        return False
    shutil.rmtree(lock, ignore_errors=True)
    return _make(lock)


def release(lock: Path) -> None:
    """Give ``lock`` back."""
    shutil.rmtree(lock, ignore_errors=True)


@contextmanager
def held(lock: Path, *, wait: float) -> Iterator[bool]:
    """Hold ``lock`` (True), or go on without it after waiting ``wait`` seconds (False)."""
    give_up_at = time.monotonic() + wait
    got = try_take(lock)
    while not got and time.monotonic() < give_up_at:
        time.sleep(0.05)
        got = try_take(lock)
    try:
        yield got
    finally:
        if got:
            release(lock)


def _make(lock: Path) -> bool:
    try:
        lock.mkdir()
    except OSError:  # FileExistsError, or a folder we may not write
        return False
    (lock / "pid").write_text(f"{os.getpid()}\n")
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True
