"""The SQLite queue holds Tracker tokens: its file, WAL and journal are its owner's only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hookrelay.queue import NewDelivery, open_store


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o000], ids=["022", "002", "000"])
def test_a_new_queue_is_created_0600(tmp_path: Path, umask: int) -> None:
    """Whatever the umask lets through, the database, its WAL and shared memory are 0600."""
    previous = os.umask(umask)
    try:
        store = open_store(f"sqlite:///{tmp_path / 'hookrelay.db'}")
        item = NewDelivery(
            dedupe_key="k",
            target_url="https://tracker.example.com/services/v5",
            token="a-tracker-token",
            token_fingerprint="fp",
            commit_id="c0ffee",
            body=b"{}",
        )
        store.enqueue([item], now=0.0)
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        store.close()
    finally:
        os.umask(previous)
    assert modes == dict.fromkeys(("hookrelay.db", "hookrelay.db-wal", "hookrelay.db-shm"), 0o600)


def test_an_existing_queue_keeps_its_mode(tmp_path: Path) -> None:
    """A queue file an operator made group-readable on purpose is left as it is."""
    path = tmp_path / "hookrelay.db"
    open_store(f"sqlite:///{path}").close()
    path.chmod(0o640)
    open_store(f"sqlite:///{path}").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
