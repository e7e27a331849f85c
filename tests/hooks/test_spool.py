"""The spool: one file a waiting commit, oldest first, and the lock one sender holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookrelay.hooks.spool import Spool


@pytest.mark.parametrize(
    ("first", "second"),
    [((1700000000, 9), (1700000001, 7)), ((1700000000, 9), (1700000000, 7)), ((5, 1), (4, 2))],
    ids=["later-second", "same-second-pid-wrapped", "clock-stepped-back"],
)
def test_entries_come_back_in_the_order_they_were_spooled_and_once(
    tmp_path: Path, first: tuple[int, int], second: tuple[int, int]
) -> None:
    """Commits keep their order within a run and across runs, whatever the clock and process
    ids of the runs (pids wrap); a waiting commit is not re-added."""
    spool = Spool(tmp_path / "state")
    spool.create()
    assert spool.add(["bb", "aa"], now=first[0], pid=first[1]) == 2
    assert spool.add(["cc", "aa", "not hex!"], now=second[0], pid=second[1]) == 1
    assert spool.waiting() == 3
    spool.expand()
    assert [e.commit_id for e in spool.pending()] == ["bb", "aa", "cc"]


def test_an_emptied_spool_starts_again_from_the_clock(tmp_path: Path) -> None:
    """Once every entry is gone, new entries are stamped with the time again."""
    spool = Spool(tmp_path)
    spool.create()
    spool.add(["aa"], now=1700000000, pid=1)
    spool.add(["bb"], now=1700000000, pid=1)
    spool.expand()
    for entry in spool.pending():
        spool.remove(entry)
    spool.add(["cc"], now=1700000005, pid=1)
    spool.expand()
    assert [e.name.split(".")[0] for e in spool.pending()] == ["1700000005"]


def test_removed_and_refused_entries_leave_the_queue(tmp_path: Path) -> None:
    """A delivered entry disappears; a refused one moves to refused/."""
    spool = Spool(tmp_path)
    spool.create()
    spool.add(["aa", "bb"], now=1, pid=1)
    spool.expand()
    first, second = spool.pending()
    spool.remove(first)
    spool.refuse(second)
    assert spool.pending() == []
    assert [p.name for p in spool.refused_folder.iterdir()] == [second.name]


def test_sending_lock_is_exclusive(tmp_path: Path) -> None:
    """One sender at a time: a second spool on the same folder cannot lock it until unlocked."""
    spool = Spool(tmp_path)
    spool.create()
    assert spool.try_lock()
    assert not Spool(tmp_path).try_lock()
    spool.unlock()
    assert Spool(tmp_path).try_lock()


def test_a_push_is_spooled_as_one_batch_and_expanded_in_place(tmp_path: Path) -> None:
    """``add`` writes one file for the whole push; ``expand`` makes its entries, named where
    the batch sorted, and doing it again (after a crash, say) makes no more of them."""
    spool = Spool(tmp_path)
    spool.create()
    spool.add(["aa"], now=10, pid=3)
    spool.expand()
    spool.add(["bb", "cc"], now=10, pid=2)
    assert sorted(p.name for p in spool.folder.iterdir()) == [
        "0000000010.0000003.000001.aa",
        "0000000011.0000002.batch",
    ]
    assert [e.commit_id for e in spool.pending()] == ["aa"]
    batch = spool.folder / "0000000011.0000002.batch"
    kept = batch.read_bytes()
    spool.expand()
    batch.write_bytes(kept)  # as if the sender died before removing it
    spool.expand()
    assert [e.name for e in spool.pending()] == [
        "0000000010.0000003.000001.aa",
        "0000000011.0000002.000001.bb",
        "0000000011.0000002.000002.cc",
    ]
