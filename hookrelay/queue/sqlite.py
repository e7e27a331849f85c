"""The embedded queue: one SQLite file, durable on return, safe for several threads and processes.

* WAL journal with ``synchronous=FULL``: a commit is on disk when ``enqueue`` returns, and
  readers do not block the writer (https://www.sqlite.org/wal.html, https://www.sqlite.org/pragma.html#pragma_synchronous).
* Every write is one ``BEGIN IMMEDIATE`` transaction, so two processes on the same file take
  the write lock in turn (``busy_timeout``) instead of failing, and a lease is claimed atomically.
* One connection per store, behind a lock: SQLite writes one transaction at a time anyway,
  and the statements are short, so a pool would add threads without adding throughput.

The state changes follow ``hookrelay.core.lifecycle``'s table; fenced updates check
``state = 'leased' AND attempts = ?`` so a worker whose lease was taken over changes nothing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from hookrelay.exceptions import StoreError
from hookrelay.queue.migrations import SCHEMA_VERSION_SQLITE, check_version
from hookrelay.queue.rows import COLUMNS, delivery_from_row
from hookrelay.queue.store import Delivery, EnqueueResult, NewDelivery, State

__all__ = ["SqliteStore"]

_INSERT = """
INSERT INTO deliveries (dedupe_key, target_url, token, token_fingerprint, commit_id, body,
                        repository, branch, summary, state, attempts, created_at, next_attempt_at)
VALUES (:dedupe_key, :target_url, :token, :token_fingerprint, :commit_id, :body,
        :repository, :branch, :summary, 'pending', 0, :now, :now)
ON CONFLICT (dedupe_key) DO NOTHING
"""

_LEASE = f"""
UPDATE deliveries
SET state = 'leased', attempts = attempts + 1, lease_until = :lease_until,
    first_attempt_at = COALESCE(first_attempt_at, :now)
WHERE id IN (
    SELECT id FROM deliveries
    WHERE (state IN ('pending', 'waiting') AND next_attempt_at <= :now)
       OR (state = 'leased' AND lease_until <= :now)
    ORDER BY next_attempt_at, id
    LIMIT :limit
)
RETURNING {COLUMNS}
"""  # noqa: S608 - COLUMNS is a constant of this package

_FENCE = "WHERE id = :id AND state = 'leased' AND attempts = :attempts"

_DELIVERED = f"""
UPDATE deliveries SET state = 'delivered', finished_at = :now, lease_until = NULL {_FENCE}
"""  # noqa: S608 - constants only

_WAITING = f"""
UPDATE deliveries
SET state = 'waiting', next_attempt_at = :next_attempt_at, lease_until = NULL, last_error = :error
{_FENCE}
"""  # noqa: S608 - constants only

_DEAD = f"""
UPDATE deliveries
SET state = 'dead', finished_at = :now, lease_until = NULL, last_error = :error
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
SET state = 'pending', next_attempt_at = :now, first_attempt_at = NULL, finished_at = NULL,
    lease_until = NULL
WHERE id = :id AND state IN ('pending', 'waiting', 'dead')
"""

_RETRY_DEAD = """
UPDATE deliveries
SET state = 'pending', next_attempt_at = :now, first_attempt_at = NULL, finished_at = NULL
WHERE state = 'dead'
"""

_GET = f"SELECT {COLUMNS} FROM deliveries WHERE id = :id"  # noqa: S608 - constants only

# COALESCE lets one statement serve "any state" and "first page" without building SQL.
_LIST = f"""
SELECT {COLUMNS} FROM deliveries
WHERE state = COALESCE(:state, state) AND id < COALESCE(:before_id, id + 1)
ORDER BY id DESC
LIMIT :limit
"""  # noqa: S608 - constants only

_COUNTS = "SELECT state, COUNT(*) FROM deliveries GROUP BY state"

_OLDEST_DUE = """
SELECT MIN(created_at) FROM deliveries WHERE state IN ('pending', 'leased', 'waiting')
"""

_PRUNE = """
DELETE FROM deliveries WHERE state IN ('delivered', 'dead') AND finished_at < :finished_before
"""


class SqliteStore:
    """A ``QueueStore`` in one SQLite file (or ``:memory:``, for tests of a single process)."""

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

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding SQLite's write lock from the start."""
        with self._lock:
            try:
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

    def enqueue(self, items: Sequence[NewDelivery], *, now: float) -> EnqueueResult:
        """Queue ``items`` in one transaction; durable on return. Known dedupe keys are skipped."""
        queued = 0
        with self._write() as db:
            for item in items:
                cursor = db.execute(
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
        with self._write() as db:
            rows = db.execute(
                _LEASE, {"now": now, "lease_until": now + lease_seconds, "limit": limit}
            ).fetchall()
        return sorted((delivery_from_row(row) for row in rows), key=lambda d: d.id)

    def _fenced(self, statement: str, delivery: Delivery, **values: object) -> bool:
        with self._write() as db:
            cursor = db.execute(
                statement, {"id": delivery.id, "attempts": delivery.attempts, **values}
            )
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
        with self._write() as db:
            return db.execute(_RETRY, {"id": delivery_id, "now": now}).rowcount == 1

    def retry_dead(self, *, now: float) -> int:
        """Make every dead delivery due now; return how many."""
        with self._write() as db:
            return db.execute(_RETRY_DEAD, {"now": now}).rowcount

    def get(self, delivery_id: int) -> Delivery | None:
        """One delivery by id."""
        with self._read() as db:
            row = db.execute(_GET, {"id": delivery_id}).fetchone()
        return None if row is None else delivery_from_row(row)

    def list(
        self, *, state: State | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[Delivery]:
        """Deliveries, newest first, optionally of one state; page with ``before_id``."""
        with self._read() as db:
            rows = db.execute(
                _LIST,
                {
                    "state": None if state is None else state.value,
                    "before_id": before_id,
                    "limit": max(0, limit),
                },
            ).fetchall()
        return [delivery_from_row(row) for row in rows]

    def counts(self) -> dict[State, int]:
        """How many deliveries are in each state (every state present, zero included)."""
        with self._read() as db:
            rows = db.execute(_COUNTS).fetchall()
        counts = dict.fromkeys(State, 0)
        counts.update({State(state): int(number) for state, number in rows})
        return counts

    def oldest_due_created_at(self) -> float | None:
        """When the oldest commit not yet delivered or dead was queued (for the metrics)."""
        with self._read() as db:
            (oldest,) = db.execute(_OLDEST_DUE).fetchone()
        return None if oldest is None else float(oldest)

    def prune(self, *, finished_before: float) -> int:
        """Delete delivered and dead rows finished before the given time; return how many."""
        with self._write() as db:
            return db.execute(_PRUNE, {"finished_before": finished_before}).rowcount

    def ping(self) -> None:
        """Raise ``StoreError`` unless the file can be read and its write lock taken."""
        with self._write() as db:
            db.execute("SELECT COUNT(*) FROM schema_version").fetchone()

    def close(self) -> None:
        """Close the connection; later calls raise ``StoreError``."""
        with self._lock:
            self._db.close()
