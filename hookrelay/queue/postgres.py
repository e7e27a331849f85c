"""The shared queue: PostgreSQL, for several replicas leasing from one database.

* ``lease`` claims due rows with ``SELECT … FOR UPDATE SKIP LOCKED`` inside the ``UPDATE``, so
  replicas racing for work each get different rows and never wait on one another
  (https://www.postgresql.org/docs/15/sql-select.html#SQL-FOR-UPDATE-SHARE).
* ``enqueue`` inserts with ``ON CONFLICT (dedupe_key) DO NOTHING``: a commit two receivers
  queue at once is stored once.
* Migrations run under a transaction-scoped advisory lock, so replicas starting together do not
  race to create the schema. A ``search_path`` in the URL (``?options=-csearch_path%3DNAME``)
  puts the tables in a schema of their own.
* One connection per store, behind a lock, reopened if the server drops it. The statements are
  short; a pool (``psycopg_pool``) would be the next step for a busy receiver.

The statements and the methods built on them are shared with SQLite (``sql.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import urlsplit

import psycopg

from hookrelay.exceptions import StoreError
from hookrelay.queue.migrations import SCHEMA_VERSION_POSTGRES, steps_to_apply
from hookrelay.queue.operator_sql import OperatorStatements
from hookrelay.queue.sql import SqlStore, Statements, Transaction

__all__ = ["PostgresStore"]

# Any constant will do, as long as every hookrelay uses the same one: "hookrel" in ASCII.
_MIGRATION_LOCK = 0x686F6F6B72656C

_STATEMENTS = Statements.for_driver(pyformat=True, row_lock="FOR UPDATE SKIP LOCKED")


def _display(conninfo: str) -> str:
    """The URL without credentials, for messages."""
    parts = urlsplit(conninfo)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class PostgresStore(SqlStore):
    """A ``QueueStore`` in a PostgreSQL database, shared by any number of replicas."""

    _sql = _STATEMENTS
    _ops = OperatorStatements.for_driver(pyformat=True)

    def __init__(self, conninfo: str, *, connect_timeout: int = 10) -> None:
        """Connect to ``conninfo`` (a ``postgresql://`` URL) and bring the schema up to date.

        Raises ``StoreError`` if the server cannot be reached or the schema is too new.
        """
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._display = _display(conninfo)
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._closed = False
        try:
            self._migrate()
        except StoreError:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStore({self._display!r})"

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._closed:
            raise StoreError(f"the PostgreSQL queue at {self._display} is closed")
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self._conninfo, autocommit=True, connect_timeout=self._connect_timeout
            )
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
        """One transaction on the store's connection; a dropped connection is reopened next time."""
        with self._lock:
            try:
                connection = self._connection()
                with connection.transaction(), connection.cursor() as cursor:
                    yield cursor
            except psycopg.Error as exc:
                if self._conn is not None and self._conn.broken:
                    self._conn.close()
                raise StoreError(
                    f"the PostgreSQL queue at {self._display} failed: "
                    f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                ) from exc

    def _migrate(self) -> None:
        with self._transaction() as cursor:
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
        return self._transaction()

    def ping(self) -> None:
        """Raise ``StoreError`` unless the server answers and accepts writes."""
        with self._transaction() as cursor:
            cursor.execute("SELECT current_setting('transaction_read_only')")
            row = cursor.fetchone()
        if row is None or row[0] != "off":
            raise StoreError(f"the PostgreSQL queue at {self._display} is read-only")

    def close(self) -> None:
        """Close the connection; later calls raise ``StoreError``."""
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
