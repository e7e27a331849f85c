"""Opening the queue a database URL names: which store, and what a bad URL or database says."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from hookrelay.exceptions import ConfigError, StoreError
from hookrelay.queue import open_store
from hookrelay.queue.database_url import sqlite_path
from hookrelay.queue.postgres import PostgresStore
from hookrelay.queue.sqlite import SqliteStore


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///./hookrelay.db", "./hookrelay.db"),
        ("sqlite:///hookrelay.db", "hookrelay.db"),
        ("sqlite:////var/lib/hookrelay/queue.db", "/var/lib/hookrelay/queue.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
    ids=["relative-dot", "relative", "absolute", "memory"],
)
def test_sqlite_path(url: str, path: str) -> None:
    """``sqlite:///PATH`` names PATH, relative after three slashes and absolute after four."""
    assert sqlite_path(url) == path


@pytest.mark.parametrize(
    "url",
    [
        "",
        "hookrelay.db",
        "sqlite://hookrelay.db",
        "sqlite:///",
        "sqlite:///queue.db?mode=ro",
        "mysql://root@localhost/hookrelay",
        "http://example.com/queue",
    ],
    ids=["empty", "bare-path", "two-slashes", "no-path", "query", "mysql", "http"],
)
def test_a_bad_url_is_a_config_error(url: str) -> None:
    """A URL hookrelay cannot use stops start-up with a ConfigError naming the accepted forms."""
    with pytest.raises(ConfigError, match="sqlite:///"):
        open_store(url)


def test_sqlite_url_opens_a_wal_file(tmp_path: Path) -> None:
    """A sqlite URL makes the file, in WAL mode so readers never block the writer."""
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        assert isinstance(store, SqliteStore)
        with sqlite3.connect(tmp_path / "q.db") as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        store.close()


def test_a_read_only_open_does_not_create_a_queue(tmp_path: Path) -> None:
    """``create=False`` (for commands that only look) fails on a missing file instead of making one."""
    missing = tmp_path / "nowhere.db"
    with pytest.raises(StoreError, match=r"nowhere\.db"):
        open_store(f"sqlite:///{missing}", create=False)
    assert not missing.exists()


def test_an_unopenable_sqlite_file_is_a_store_error(tmp_path: Path) -> None:
    """A path in a folder that does not exist is a StoreError naming the path."""
    with pytest.raises(StoreError, match="no-such-folder"):
        open_store(f"sqlite:///{tmp_path / 'no-such-folder' / 'q.db'}")


def test_an_unreachable_postgres_is_a_store_error_without_the_password() -> None:
    """A PostgreSQL server that is not there is a StoreError, and the message keeps the password out."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StoreError) as caught:
        PostgresStore(f"postgresql://relay:s3cret-pw@127.0.0.1:{port}/queue", connect_timeout=2)
    assert "s3cret-pw" not in str(caught.value)
    assert f"127.0.0.1:{port}" in str(caught.value)
