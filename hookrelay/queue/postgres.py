"""The shared queue: PostgreSQL, for several replicas leasing from one database.

* ``lease`` claims due rows with ``SELECT … FOR UPDATE SKIP LOCKED`` inside the ``UPDATE``, so
  replicas racing for work each get different rows and never wait on one another
  (https://www.postgresql.org/docs/15/sql-select.html#SQL-FOR-UPDATE-SHARE).
* ``enqueue`` inserts with ``ON CONFLICT (dedupe_key) DO NOTHING``: a commit two receivers
  queue at once is stored once.
* Migrations run under a transaction-scoped advisory lock, so replicas starting together do not
  race to create the schema. A ``search_path`` in the URL (``?options=-csearch_path%3DNAME``)
  puts the tables in a schema of their own.
* One connection for durable writes, behind a lock, and one per posting thread for the
  workers' leases and results (single statements, not flushed before the answer); each is
  reopened if the server drops it. A pool (``psycopg_pool``) would be the next step for a busy
  receiver.

The statements and the methods built on them are shared with SQLite (``sql.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlsplit

import psycopg

from hookrelay.core.text import one_line
from hookrelay.exceptions import StoreError
from hookrelay.queue.leases import RECORD_ONE_POSTGRES, RECORD_POSTGRES
from hookrelay.queue.migrations import SCHEMA_VERSION_POSTGRES, steps_to_apply
from hookrelay.queue.operator_sql import OperatorStatements
from hookrelay.queue.sql import SqlStore, Statements, Transaction

__all__ = ["PostgresStore"]

# Any constant will do, as long as every hookrelay uses the same one: "hookrel" in ASCII.
_MIGRATION_LOCK = 0x686F6F6B72656C

_BOOKKEEPERS = 16  # connections for leases and results at most, one per thread using it

_STATEMENTS = Statements.for_driver(
    pyformat=True,
    record=RECORD_POSTGRES,
    record_one=RECORD_ONE_POSTGRES,
    record_writes_attempts=True,
    row_lock="FOR UPDATE SKIP LOCKED",
    arrays=True,
)


def _display(conninfo: str) -> str:
    """The URL without credentials, for messages."""
    parts = urlsplit(conninfo)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class _Session:
    """One connection, behind a lock, reopened if the server dropped it; ``settings`` are run
    on each new connection. ``cursor`` is the way in (a context manager giving a cursor):
    every statement its own transaction, or one transaction for all."""

    def __init__(
        self,
        store: PostgresStore,
        settings: tuple[str, ...] = (),
        pool: _Pool | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._cursor: psycopg.Cursor[tuple[Any, ...]] | None = None
        self._transaction: AbstractContextManager[Any] | None = None
        self._closed = False
        self.pool = pool
        self._plain = _Use(self, transaction=False)
        self._atomic = _Use(self, transaction=True)

    def cursor(self, *, transaction: bool) -> _Use:
        """A cursor inside one transaction, or (``transaction=False``) one whose every statement
        commits on its own."""
        return self._atomic if transaction else self._plain

    def _open(self, transaction: bool) -> psycopg.Cursor[tuple[Any, ...]]:
        """Called holding the lock: the session's cursor, in a new transaction if asked."""
        if self._closed:
            raise StoreError(f"the PostgreSQL queue at {self._store.display} is closed")
        conn, cursor = self._conn, self._cursor
        if conn is None or cursor is None or conn.closed:
            conn = self._store.connect()
            try:
                for setting in self._settings:
                    conn.execute(setting)
            except BaseException:
                conn.close()  # kept only once set up: the next call starts afresh
                raise
            cursor = conn.cursor()
            self._conn, self._cursor = conn, cursor
        if transaction:
            begun = conn.transaction()
            begun.__enter__()  # left in _end
            self._transaction = begun
        return cursor

    def _end(self, error: BaseException | None) -> None:
        """Called holding the lock: end the transaction, if any (rolled back after ``error``),
        and close a connection the error broke; psycopg's errors become ``StoreError``."""
        transaction, self._transaction = self._transaction, None
        try:
            if transaction is not None:
                if error is None:
                    transaction.__exit__(None, None, None)
                else:
                    transaction.__exit__(type(error), error, error.__traceback__)
        except psycopg.Error as exc:
            error = exc
        if isinstance(error, psycopg.Error):
            if self._conn is not None and self._conn.broken:
                self._conn.close()
            raise StoreError(
                f"the PostgreSQL queue at {self._store.display} failed: "
                f"{type(error).__name__}: {one_line(str(error))}"
            ) from error

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()


class _Use:
    """A session held for one ``with`` block: its lock, its cursor, and, if asked, one
    transaction; a pooled session goes back to its pool afterwards. A class rather than a
    generator context manager: the workers enter one for every statement."""

    __slots__ = ("_session", "_transaction")

    def __init__(self, session: _Session, *, transaction: bool) -> None:
        self._session = session
        self._transaction = transaction

    def __enter__(self) -> psycopg.Cursor[tuple[Any, ...]]:
        session = self._session
        session._lock.acquire()
        try:
            return session._open(self._transaction)
        except BaseException as exc:
            self._leave(exc)
            raise

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        self._leave(error)

    def _leave(self, error: BaseException | None) -> None:
        session = self._session
        try:
            session._end(error)
        finally:
            session._lock.release()
            if session.pool is not None:
                session.pool.give_back(session)


class _Pool:
    """The bookkeeping sessions, made as needed up to ``size``. The one used last is taken
    first (its connection and server process are the warmest); a caller waits only when all
    are in use, and the usual take and give back hold no lock (a list's ``pop`` and
    ``append`` are atomic)."""

    def __init__(self, make: Callable[[_Pool], _Session], size: int) -> None:
        self._make = make
        self._size = size
        self.sessions: list[_Session] = []
        self._idle: list[_Session] = []
        self._waiting = 0
        self._returned = threading.Condition()

    def take(self) -> _Session:
        """An idle session, a new one, or the first given back."""
        try:
            return self._idle.pop()
        except IndexError:
            pass
        with self._returned:
            # Counted before looking, so that give_back, which looks after adding, either
            # sees the count and wakes this thread or added before this thread looks.
            self._waiting += 1
            try:
                while True:
                    try:
                        return self._idle.pop()
                    except IndexError:
                        pass
                    if len(self.sessions) < self._size:
                        session = self._make(self)
                        self.sessions.append(session)
                        return session
                    self._returned.wait()
            finally:
                self._waiting -= 1

    def close(self) -> None:
        """Close every session made; later statements on them raise ``StoreError``."""
        with self._returned:
            sessions = list(self.sessions)
        for session in sessions:
            session.close()

    def give_back(self, session: _Session) -> None:
        """Make ``session`` idle again, and wake a thread waiting for one."""
        self._idle.append(session)
        if self._waiting:
            with self._returned:
                self._returned.notify()


class PostgresStore(SqlStore):
    """A ``QueueStore`` in a PostgreSQL database, shared by any number of replicas.

    It holds one connection for what must be durable on return (enqueue, the operator's
    changes) and, as they are needed, one per thread for the workers' bookkeeping (leases and
    attempt results), so none waits for another.
    """

    _sql = _STATEMENTS
    _ops = OperatorStatements.for_driver(pyformat=True)

    def __init__(self, conninfo: str, *, connect_timeout: int = 10) -> None:
        """Connect to ``conninfo`` (a ``postgresql://`` URL) and bring the schema up to date.

        Raises ``StoreError`` if the server cannot be reached or the schema is too new.
        """
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self.display = _display(conninfo)
        self._durable = _Session(self)
        # Bookkeeping sessions, one per posting thread at a time (so no thread waits for
        # another's statement), made as needed up to _BOOKKEEPERS.
        self._bookkeepers = _Pool(
            lambda pool: _Session(self, ("SET synchronous_commit = off",), pool), _BOOKKEEPERS
        )
        try:
            self._migrate()
        except StoreError:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStore({self.display!r})"

    def connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        """A new autocommit connection to the queue's database."""
        return psycopg.connect(
            self._conninfo, autocommit=True, connect_timeout=self._connect_timeout
        )

    def _migrate(self) -> None:
        with self._durable.cursor(transaction=True) as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cursor.execute(SCHEMA_VERSION_POSTGRES)
            cursor.execute("SELECT version FROM schema_version")
            for step in steps_to_apply({int(row[0]) for row in cursor.fetchall()}):
                for statement in step.postgres:
                    cursor.execute(statement)
                cursor.execute(
                    "INSERT INTO schema_version (version, description) VALUES (%s, %s)",
                    (step.version, step.description),
                )

    def _write(self) -> AbstractContextManager[Transaction]:
        return self._durable.cursor(transaction=True)

    def _read(self) -> AbstractContextManager[Transaction]:
        """Reads, each statement on its own: one statement is a consistent snapshot in itself,
        and none of the store's reads needs two to agree (the worker's look at the inbox, a
        poll, costs one round trip instead of three)."""
        return self._durable.cursor(transaction=False)

    def _bookkeeping(self, *, atomic: bool = False) -> AbstractContextManager[Transaction]:
        """Single statements the server does not wait to flush (``synchronous_commit = off``):
        they survive this process, and a server crash can undo only their last instant
        (https://www.postgresql.org/docs/15/wal-async-commit.html). Each caller gets a
        connection of its own while it runs one."""
        return self._bookkeepers.take().cursor(transaction=atomic)

    def ping(self) -> None:
        """Raise ``StoreError`` unless the server answers and accepts writes."""
        with self._durable.cursor(transaction=True) as cursor:
            cursor.execute("SELECT current_setting('transaction_read_only')")
            row = cursor.fetchone()
        if row is None or row[0] != "off":
            raise StoreError(f"the PostgreSQL queue at {self.display} is read-only")

    def close(self) -> None:
        """Close the connections; later calls raise ``StoreError``."""
        self._durable.close()
        self._bookkeepers.close()
