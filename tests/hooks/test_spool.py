"""The spool: one file a waiting commit, oldest first, and the lock one sender holds."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hookrelay.hooks.spool import Spool


def test_entries_come_back_oldest_first_and_once(tmp_path: Path) -> None:
    """Commits keep their order within a run and across runs; a waiting commit is not re-added."""
    spool = Spool(tmp_path / "state")
    spool.create()
    assert spool.add(["bb", "aa"], now=1700000001, pid=7) == 2
    assert spool.add(["cc", "aa", "not hex!"], now=1700000000, pid=9) == 1
    assert [e.commit_id for e in spool.pending()] == ["cc", "bb", "aa"]


def test_removed_and_refused_entries_leave_the_queue(tmp_path: Path) -> None:
    """A delivered entry disappears; a refused one moves to refused/."""
    spool = Spool(tmp_path)
    spool.create()
    spool.add(["aa", "bb"], now=1, pid=1)
    first, second = spool.pending()
    spool.remove(first)
    spool.refuse(second)
    assert spool.pending() == []
    assert [p.name for p in spool.refused_folder.iterdir()] == [second.name]


def test_lock_is_exclusive_and_a_dead_holders_lock_is_taken_over(tmp_path: Path) -> None:
    """A live holder keeps the lock; a lock left by a dead process is taken over."""
    spool = Spool(tmp_path)
    spool.create()
    assert spool.try_lock()
    assert not Spool(tmp_path).try_lock()
    spool.unlock()
    finished = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
    (tmp_path / "lock").mkdir()
    (tmp_path / "lock" / "pid").write_text(finished.stdout)
    assert spool.try_lock()
    assert (tmp_path / "lock" / "pid").read_text().strip() != finished.stdout.strip()
