"""The hooks' one lock: a folder holding its holder's process id."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from hookrelay.hooks import dirlock


def finished_pid() -> str:
    """The process id of a process that has already ended."""
    return subprocess.run(
        ["sh", "-c", "echo $$"], capture_output=True, text=True, check=True
    ).stdout


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    """A taken lock cannot be taken again until released."""
    lock = tmp_path / "lock"
    assert dirlock.try_take(lock)
    assert not dirlock.try_take(lock)
    dirlock.release(lock)
    assert dirlock.try_take(lock)


def test_a_dead_holders_lock_is_taken_over(tmp_path: Path) -> None:
    """A lock left by a process that died is taken over, with this process's id."""
    lock = tmp_path / "lock"
    lock.mkdir()
    (lock / "pid").write_text(finished_pid())
    assert dirlock.try_take(lock)
    assert (lock / "pid").read_text().strip() != finished_pid().strip()


def test_a_lock_being_taken_is_left_alone(tmp_path: Path) -> None:
    """A lock folder without a pid yet (its taker is between mkdir and write) is not taken."""
    lock = tmp_path / "lock"
    lock.mkdir()
    assert not dirlock.try_take(lock)
    assert lock.is_dir()


def test_held_waits_then_goes_on_without_the_lock(tmp_path: Path) -> None:
    """``held`` gives up after its wait and says so (False); a free lock is held and released."""
    lock = tmp_path / "lock"
    assert dirlock.try_take(lock)  # held by this (live) process
    started = time.monotonic()
    with dirlock.held(lock, wait=0.2) as got:
        assert got is False
    assert time.monotonic() - started >= 0.2
    dirlock.release(lock)
    with dirlock.held(lock, wait=0.2) as got:
        assert got is True
        assert lock.is_dir()
    assert not lock.exists()
