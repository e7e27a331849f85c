"""The embedded queue: one SQLite file, durable on return, safe for several threads and processes.

* WAL journal with ``synchronous=FULL``: a commit is on disk when ``enqueue`` returns, and
  readers do not block the writer (https://www.sqlite.org/wal.html, https://www.sqlite.org/pragma.html#pragma_synchronous).
* Every durable write is one ``BEGIN IMMEDIATE`` transaction, so two processes on the same
  file take the write lock in turn (``busy_timeout``) instead of failing. The workers' leases
  and results are single statements, each its own transaction (atomic, waiting for the lock
  the same way), written with ``synchronous=NORMAL``: they survive the process, and a power
  loss can only make a commit due again (``sql.py``'s ``_bookkeeping``).
* One connection per store, behind a lock: SQLite writes one transaction at a time anyway,
  and the statements are short, so a pool would add threads without adding throughput.

The statements and the methods built on them are shared with PostgreSQL (``sql.py``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from hookrelay.exceptions import StoreError
from hookrelay.queue.leases import RECORD_SQLITE
from hookrelay.queue.migrations import SCHEMA_VERSION_SQLITE, check_version
from hookrelay.queue.sql import SqlStore, Statements

__all__ = ["SqliteStore"]

_STATEMENTS = Statements.for_driver(pyformat=False, record=RECORD_SQLITE)


class SqliteStore(SqlStore):
    """A ``QueueStore`` in one SQLite file (or ``:memory:``, for tests of a single process)."""

    _sql = _STATEMENTS

    def __init__(self, path: str, *, create: bool = True, busy_timeout: float = 10.0) -> None:
        """Open (and, with ``create``, make) the queue at ``path`` and bring its schema up to date.

        Raises ``StoreError`` if the file cannot be opened or belongs to a newer hookrelay.
        """
        self._path = path
        self._lock = threading.Lock()
        try:
            if create or path == ":memory:":
                self._db = sqlite3.connect(
                    path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
                )
            else:
                # mode=rw: a missing file is an error, not a new empty queue.
                self._db = sqlite3.connect(
                    f"{Path(path).resolve().as_uri()}?mode=rw",
                    uri=True,
                    timeout=busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the SQLite queue at {path}: {exc}") from exc
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._durable = True
            self._migrate()
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"cannot prepare the SQLite queue at {path}: {exc}") from exc
        except StoreError:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteStore({self._path!r})"

    def _migrate(self) -> None:
        with self._write() as db:
            db.execute(SCHEMA_VERSION_SQLITE)
            current = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            for step in check_version(int(current.fetchone()[0])):
                for statement in step.sqlite:
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_version (version, description) VALUES (?, ?)",
                    (step.version, step.description),
                )

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction, holding SQLite's write lock from the start; on disk on return."""
        return self._transaction(durable=True)

    def _bookkeeping(self) -> AbstractContextManager[sqlite3.Connection]:
        """Single statements, each its own transaction (one that starts by writing waits for
        the lock like ``BEGIN IMMEDIATE``), that survive the process (the WAL is written) and
        are flushed with the next durable write or checkpoint (``synchronous=NORMAL``,
        https://www.sqlite.org/wal.html)."""
        return self._transaction(durable=False)

    @contextmanager
    def _transaction(self, *, durable: bool) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                if durable is not self._durable:  # outside a transaction, where it may change
                    self._db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
                    self._durable = durable
                if not durable:
                    yield self._db
                    return
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"the SQLite queue at {self._path} failed: {exc}") from exc

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise StoreError(f"the SQLite queue at {self._path} failed: {exc}") from exc

    def ping(self) -> None:
        """Raise ``StoreError`` unless the file can be read and its write lock taken."""
        with self._write() as db:
            db.execute("SELECT COUNT(*) FROM schema_version").fetchone()

    def close(self) -> None:
        """Close the connection; later calls raise ``StoreError``."""
        with self._lock:
            self._db.close()
