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

The state changes follow ``hookrelay.core.lifecycle``'s table, fenced exactly as in SQLite.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import psycopg

from hookrelay.exceptions import StoreError
from hookrelay.queue.migrations import SCHEMA_VERSION_POSTGRES, check_version
from hookrelay.queue.rows import COLUMNS, delivery_from_row
from hookrelay.queue.store import Delivery, EnqueueResult, NewDelivery, State

__all__ = ["PostgresStore"]

# Any constant will do, as long as every hookrelay uses the same one: "hookrel" in ASCII.
_MIGRATION_LOCK = 0x686F6F6B72656C

_INSERT = """
INSERT INTO deliveries (dedupe_key, target_url, token, token_fingerprint, commit_id, body,
                        repository, branch, summary, state, attempts, created_at, next_attempt_at)
VALUES (%(dedupe_key)s, %(target_url)s, %(token)s, %(token_fingerprint)s, %(commit_id)s,
        %(body)s, %(repository)s, %(branch)s, %(summary)s, 'pending', 0, %(now)s, %(now)s)
ON CONFLICT (dedupe_key) DO NOTHING
"""

_LEASE = f"""
UPDATE deliveries
SET state = 'leased', attempts = attempts + 1, lease_until = %(lease_until)s,
    first_attempt_at = COALESCE(first_attempt_at, %(now)s)
WHERE id IN (
    SELECT id FROM deliveries
    WHERE (state IN ('pending', 'waiting') AND next_attempt_at <= %(now)s)
       OR (state = 'leased' AND lease_until <= %(now)s)
    ORDER BY next_attempt_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING {COLUMNS}
"""  # noqa: S608 - COLUMNS is a constant of this package

_FENCE = "WHERE id = %(id)s AND state = 'leased' AND attempts = %(attempts)s"

_DELIVERED = f"""
UPDATE deliveries SET state = 'delivered', finished_at = %(now)s, lease_until = NULL {_FENCE}
"""  # noqa: S608 - constants only

_WAITING = f"""
UPDATE deliveries
SET state = 'waiting', next_attempt_at = %(next_attempt_at)s, lease_until = NULL,
    last_error = %(error)s
{_FENCE}
"""  # noqa: S608 - constants only

_DEAD = f"""
UPDATE deliveries
SET state = 'dead', finished_at = %(now)s, lease_until = NULL, last_error = %(error)s
{_FENCE}
"""  # noqa: S608 - constants only

# Releasing un-counts the attempt; the first attempt's time goes with it if it was the first.
_RELEASE = f"""
UPDATE deliveries
SET state = 'pending', attempts = attempts - 1, lease_until = NULL,
    first_attempt_at = CASE WHEN attempts = 1 THEN NULL ELSE first_attempt_at END
{_FENCE}
"""  # noqa: S608 - constants only

_RETRY = """
UPDATE deliveries
SET state = 'pending', next_attempt_at = %(now)s, first_attempt_at = NULL, finished_at = NULL,
    lease_until = NULL
WHERE id = %(id)s AND state IN ('pending', 'waiting', 'dead')
"""

_RETRY_DEAD = """
UPDATE deliveries
SET state = 'pending', next_attempt_at = %(now)s, first_attempt_at = NULL, finished_at = NULL
WHERE state = 'dead'
"""

_GET = f"SELECT {COLUMNS} FROM deliveries WHERE id = %(id)s"  # noqa: S608 - constants only

# COALESCE gives the parameters the columns' types, so one statement serves every filter.
_LIST = f"""
SELECT {COLUMNS} FROM deliveries
WHERE state = COALESCE(%(state)s, state) AND id < COALESCE(%(before_id)s, id + 1)
ORDER BY id DESC
LIMIT %(limit)s
"""  # noqa: S608 - constants only

_COUNTS = "SELECT state, COUNT(*) FROM deliveries GROUP BY state"

_OLDEST_DUE = """
SELECT MIN(created_at) FROM deliveries WHERE state IN ('pending', 'leased', 'waiting')
"""

_PRUNE = """
DELETE FROM deliveries
WHERE state IN ('delivered', 'dead') AND finished_at < %(finished_before)s
"""


def _display(conninfo: str) -> str:
    """The URL without credentials, for messages."""
    parts = urlsplit(conninfo)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class PostgresStore:
    """A ``QueueStore`` in a PostgreSQL database, shared by any number of replicas."""

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
            cursor.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            row = cursor.fetchone()
            for step in check_version(0 if row is None else int(row[0])):
                for statement in step.postgres:
                    cursor.execute(statement)
                cursor.execute(
                    "INSERT INTO schema_version (version, description) VALUES (%s, %s)",
                    (step.version, step.description),
                )

    def enqueue(self, items: Sequence[NewDelivery], *, now: float) -> EnqueueResult:
        """Queue ``items`` in one transaction; durable on return. Known dedupe keys are skipped."""
        queued = 0
        with self._transaction() as cursor:
            for item in items:
                cursor.execute(
                    _INSERT,
                    {
                        "dedupe_key": item.dedupe_key,
                        "target_url": item.target_url,
                        "token": item.token,
                        "token_fingerprint": item.token_fingerprint,
                        "commit_id": item.commit_id,
                        "body": item.body,
                        "repository": item.repository,
                        "branch": item.branch,
                        "summary": item.summary,
                        "now": now,
                    },
                )
                queued += cursor.rowcount
        return EnqueueResult(queued=queued, duplicates=len(items) - queued)

    def lease(self, *, now: float, limit: int, lease_seconds: float) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries until ``now + lease_seconds``; count an attempt."""
        if limit <= 0:
            return []
        with self._transaction() as cursor:
            cursor.execute(_LEASE, {"now": now, "lease_until": now + lease_seconds, "limit": limit})
            rows = cursor.fetchall()
        return sorted((delivery_from_row(row) for row in rows), key=lambda d: d.id)

    def _fenced(self, statement: str, delivery: Delivery, **values: object) -> bool:
        with self._transaction() as cursor:
            cursor.execute(statement, {"id": delivery.id, "attempts": delivery.attempts, **values})
            return cursor.rowcount == 1

    def mark_delivered(self, delivery: Delivery, *, now: float) -> bool:
        """Record success; False if the lease was lost (another worker took it over)."""
        return self._fenced(_DELIVERED, delivery, now=now)

    def mark_waiting(
        self, delivery: Delivery, *, now: float, next_attempt_at: float, error: str
    ) -> bool:
        """Record a retryable failure and when to try again; False if the lease was lost."""
        del now  # the row keeps no time for a failure but the next attempt's
        return self._fenced(_WAITING, delivery, next_attempt_at=next_attempt_at, error=error)

    def mark_dead(self, delivery: Delivery, *, now: float, error: str) -> bool:
        """Record a permanent failure (dead-letter list); False if the lease was lost."""
        return self._fenced(_DEAD, delivery, now=now, error=error)

    def release(self, delivery: Delivery, *, now: float) -> bool:
        """Give a leased delivery back without counting the attempt (graceful shutdown)."""
        del now
        return self._fenced(_RELEASE, delivery)

    def retry(self, delivery_id: int, *, now: float) -> bool:
        """Make a dead, waiting or pending delivery due now; False if unknown, final or leased."""
        with self._transaction() as cursor:
            cursor.execute(_RETRY, {"id": delivery_id, "now": now})
            return cursor.rowcount == 1

    def retry_dead(self, *, now: float) -> int:
        """Make every dead delivery due now; return how many."""
        with self._transaction() as cursor:
            cursor.execute(_RETRY_DEAD, {"now": now})
            return cursor.rowcount

    def get(self, delivery_id: int) -> Delivery | None:
        """One delivery by id."""
        with self._transaction() as cursor:
            cursor.execute(_GET, {"id": delivery_id})
            row = cursor.fetchone()
        return None if row is None else delivery_from_row(row)

    def list(
        self, *, state: State | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[Delivery]:
        """Deliveries, newest first, optionally of one state; page with ``before_id``."""
        with self._transaction() as cursor:
            cursor.execute(
                _LIST,
                {
                    "state": None if state is None else state.value,
                    "before_id": before_id,
                    "limit": max(0, limit),
                },
            )
            rows = cursor.fetchall()
        return [delivery_from_row(row) for row in rows]

    def counts(self) -> dict[State, int]:
        """How many deliveries are in each state (every state present, zero included)."""
        with self._transaction() as cursor:
            cursor.execute(_COUNTS)
            rows = cursor.fetchall()
        counts = dict.fromkeys(State, 0)
        counts.update({State(state): int(number) for state, number in rows})
        return counts

    def oldest_due_created_at(self) -> float | None:
        """When the oldest commit not yet delivered or dead was queued (for the metrics)."""
        with self._transaction() as cursor:
            cursor.execute(_OLDEST_DUE)
            row = cursor.fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def prune(self, *, finished_before: float) -> int:
        """Delete delivered and dead rows finished before the given time; return how many."""
        with self._transaction() as cursor:
            cursor.execute(_PRUNE, {"finished_before": finished_before})
            return cursor.rowcount

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
