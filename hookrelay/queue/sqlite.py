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

* The file, its WAL and its journal are readable by their owner only (0600): the queue holds
  Tracker tokens. SQLite gives the WAL and journal the database file's mode, so creating the
  file 0600 before SQLite opens it is enough (https://www.sqlite.org/tempfiles.html).

The statements and the methods built on them are shared with PostgreSQL (``sql.py``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from hookrelay.exceptions import StoreError
from hookrelay.queue.inserting import ROWS_A_STATEMENT, insert_pushes
from hookrelay.queue.leases import RECORD_SQLITE
from hookrelay.queue.migrations import SCHEMA_VERSION_SQLITE, steps_to_apply
from hookrelay.queue.operator_sql import OperatorStatements
from hookrelay.queue.sql import SqlStore, Statements
from hookrelay.queue.store import InboxPush

__all__ = ["SqliteStore", "create_private"]

_STATEMENTS = Statements.for_driver(pyformat=False, record=RECORD_SQLITE)
_OWNER_ONLY = 0o600


def create_private(path: str) -> None:
    """Create the SQLite file at ``path`` readable and writable by its owner only, if missing.

    An existing file keeps its mode (an operator may have shared it with a group on purpose).
    """
    if path == ":memory:" or path.startswith("file:"):
        return
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _OWNER_ONLY)
    except FileExistsError:
        return
    except OSError:
        return  # sqlite3.connect reports the folder that is missing or not writable
    os.close(descriptor)


class SqliteStore(SqlStore):
    """A ``QueueStore`` in one SQLite file (or ``:memory:``, for tests of a single process)."""

    _sql = _STATEMENTS
    _ops = OperatorStatements.for_driver(pyformat=False)

    def __init__(self, path: str, *, create: bool = True, busy_timeout: float = 10.0) -> None:
        """Open (and, with ``create``, make) the queue at ``path`` and bring its schema up to date.

        Raises ``StoreError`` if the file cannot be opened or belongs to a newer hookrelay.
        """
        self._path = path
        self._lock = threading.Lock()
        try:
            if create or path == ":memory:":
                create_private(path)
                self._db = sqlite3.connect(
                    path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
                )
            else:
                if not Path(path).exists():
                    raise StoreError(
                        f"no queue at {path}: serve makes it on its first start (look in "
                        "serve's folder, or set HOOKRELAY_DATABASE_URL)"
                    )
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
            applied = db.execute("SELECT version FROM schema_version").fetchall()
            for step in steps_to_apply({int(row[0]) for row in applied}):
                for statement in step.sqlite:
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_version (version, description) VALUES (?, ?)",
                    (step.version, step.description),
                )

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction, holding SQLite's write lock from the start; on disk on return."""
        return self._transaction(durable=True)

    def accept(self, pushes: Sequence[InboxPush], *, now: float) -> None:
        """Keep ``pushes`` in the inbox, in one transaction; durable on return.

        Up to ``ROWS_A_STATEMENT`` pushes are one ``INSERT`` run as its own transaction: SQLite
        takes the write lock when the statement starts (as ``BEGIN IMMEDIATE`` does) and
        commits it, with ``synchronous=FULL``, when it ends. That is one call into SQLite
        instead of three (``BEGIN IMMEDIATE``, ``INSERT``, ``COMMIT``), and each call lets go of
        the GIL and must take it back from the event loop's thread.
        """
        if pushes:
            one_statement = len(pushes) <= ROWS_A_STATEMENT
            with self._transaction(durable=True, atomic=not one_statement) as db:
                insert_pushes(db, pushes, now=now)

    def _bookkeeping(self, *, atomic: bool = False) -> AbstractContextManager[sqlite3.Connection]:
        """Single statements, each its own transaction (one that starts by writing waits for
        the lock like ``BEGIN IMMEDIATE``), that survive the process (the WAL is written) and
        are flushed with the next durable write or checkpoint (``synchronous=NORMAL``,
        https://www.sqlite.org/wal.html); several statements in one transaction when
        ``atomic``."""
        return self._transaction(durable=False, atomic=atomic)

    @contextmanager
    def _transaction(self, *, durable: bool, atomic: bool = True) -> Iterator[sqlite3.Connection]:
        """A transaction (``BEGIN IMMEDIATE`` … ``COMMIT``), or, when not ``atomic``, the
        connection in autocommit mode, each statement its own transaction; ``durable``:
        ``synchronous=FULL``, else ``NORMAL``."""
        with self._lock:
            try:
                if durable is not self._durable:  # outside a transaction, where it may change
                    self._db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
                    self._durable = durable
                if not atomic:
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
