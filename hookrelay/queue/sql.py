"""What the SQLite and PostgreSQL stores share: the statements, and every method built on them.

The two stores differ only in how they open a connection and run a transaction, in the
placeholder style of their driver (``:name`` for sqlite3, ``%(name)s`` for psycopg) and in the
row lock of ``lease`` (PostgreSQL's ``FOR UPDATE SKIP LOCKED``; SQLite has one writer at a
time), and in the form of the statement recording several results (``leases.py``). The state
changes follow ``hookrelay.core.lifecycle``'s table; fenced updates check
``state = 'leased' AND attempts = ?`` so a worker whose lease was taken over changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from hookrelay.queue.inserting import count_groups, insert_groups
from hookrelay.queue.leases import LEASE, RECORD_ONE
from hookrelay.queue.leases import parameters as record_parameters
from hookrelay.queue.operator_sql import Cursor, OperatorQueries, Transaction
from hookrelay.queue.rows import COLUMNS, delivery_from_row, placeholders
from hookrelay.queue.store import (
    AttemptResult,
    Delivery,
    EnqueueResult,
    InboxPush,
    NewDelivery,
    State,
)

__all__ = ["Cursor", "SqlStore", "Statements", "Transaction"]


_FENCE = "WHERE id = :id AND state = 'leased' AND attempts = :attempts"

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

# COALESCE lets one statement serve "any state" and "first page" without building SQL, and
# gives PostgreSQL the parameters' types.
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

_KEEP_DELIVERED_KEYS = """
INSERT INTO delivered_keys (dedupe_key, delivered_at)
SELECT dedupe_key, finished_at FROM deliveries
WHERE state = 'delivered' AND finished_at < :finished_before
ON CONFLICT (dedupe_key) DO NOTHING
"""

_PRUNE = """
DELETE FROM deliveries WHERE state IN ('delivered', 'dead') AND finished_at < :finished_before
"""

_PENDING_BYTES = """
SELECT COALESCE(SUM(LENGTH(body)), 0) FROM deliveries
WHERE token_fingerprint = :token_fingerprint AND state IN ('pending', 'leased', 'waiting')
"""

_INBOX = """
SELECT id, received_at, token, push FROM inbox WHERE id > :after_id ORDER BY id
LIMIT :limit
"""

_INBOX_COUNT = "SELECT COUNT(*) FROM inbox"

_TAKE = "DELETE FROM inbox WHERE id = :id"


# PostgreSQL's forms, a statement (a round trip) for all the pushes of a transaction.
_ACCEPT_ARRAYS = """
INSERT INTO inbox (received_at, token, push)
SELECT :received_at, u.token, u.push
FROM unnest(:tokens::text[], :pushes::bytea[]) WITH ORDINALITY AS u (token, push, n)
ORDER BY u.n
"""

_TAKE_ARRAYS = "DELETE FROM inbox WHERE id = ANY(:ids::bigint[]) RETURNING id"


@dataclass(frozen=True, slots=True)
class Statements:
    """The queue's statements in one driver's placeholder style."""

    lease: str
    record: str
    record_one: Mapping[State, str]
    release: str
    retry: str
    retry_dead: str
    get: str
    list: str
    counts: str
    oldest_due: str
    keep_delivered_keys: str
    prune: str
    pending_bytes: str = ""
    accept: str = ""
    inbox: str = ""
    inbox_count: str = ""
    take: str = ""
    arrays: bool = False
    placeholder: str = "?"
    record_writes_attempts: bool = False

    @classmethod
    def for_driver(
        cls,
        *,
        pyformat: bool,
        record: str,
        record_one: Mapping[str, str] = RECORD_ONE,
        record_writes_attempts: bool = False,
        row_lock: str = "",
        arrays: bool = False,
    ) -> Statements:
        """The statements with ``:name`` placeholders, or ``%(name)s`` when ``pyformat``;
        ``record`` and ``record_one`` are the driver's forms of ``leases.py``'s statements
        recording results, which also write each result's attempt when
        ``record_writes_attempts``; with ``arrays`` (PostgreSQL), the inbox's pushes are kept
        and taken a transaction's worth in one statement."""

        def style(sql: str) -> str:
            return placeholders(sql, pyformat=pyformat)

        return cls(
            lease=style(LEASE.format(row_lock=row_lock)),
            record=style(record),
            record_one={State(state): style(sql) for state, sql in record_one.items()},
            release=style(_RELEASE),
            retry=style(_RETRY),
            retry_dead=style(_RETRY_DEAD),
            get=style(_GET),
            list=style(_LIST),
            counts=style(_COUNTS),
            oldest_due=style(_OLDEST_DUE),
            keep_delivered_keys=style(_KEEP_DELIVERED_KEYS),
            prune=style(_PRUNE),
            pending_bytes=style(_PENDING_BYTES),
            accept=style(_ACCEPT_ARRAYS) if arrays else "",  # SqliteStore.accept: insert_pushes
            inbox=style(_INBOX),
            inbox_count=style(_INBOX_COUNT),
            take=style(_TAKE_ARRAYS if arrays else _TAKE),
            arrays=arrays,
            placeholder="%s" if pyformat else "?",
            record_writes_attempts=record_writes_attempts,
        )


class SqlStore(OperatorQueries):
    """Every ``QueueStore`` method, on top of a subclass's ``_write()`` and ``_read()``."""

    _sql: Statements

    def _write(self) -> AbstractContextManager[Transaction]:
        """One write transaction (a subclass provides it)."""
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[Transaction]:
        """A consistent read (a subclass provides it; a write transaction will do)."""
        return self._write()

    def _bookkeeping(self, *, atomic: bool = False) -> AbstractContextManager[Transaction]:
        """Where the workers' bookkeeping runs (a lease, attempt results): one statement each,
        atomic, and kept when the process dies, but a subclass may let a power loss or a
        database crash undo its last instant. Undoing one can only make a commit due again
        (posted twice), never lose one, so these need not wait for a disk flush as ``enqueue``
        must. A subclass may run each statement as its own transaction, unless ``atomic``
        asks for several statements that happen together or not at all.
        """
        return self._write()

    def enqueue(self, items: Sequence[NewDelivery], *, now: float) -> EnqueueResult:
        """Queue ``items`` in one transaction; durable on return. Known dedupe keys are skipped."""
        return self.enqueue_groups([items], now=now)[0]

    def enqueue_groups(
        self, groups: Sequence[Sequence[NewDelivery]], *, now: float
    ) -> list[EnqueueResult]:
        """Queue several requests' commits in one transaction (one durable write for all of
        them: group commit), and say for each group what was queued and what was known."""
        inserted: set[str] = set()
        if any(groups):
            with self._write() as db:
                inserted = insert_groups(db, self._sql.placeholder, groups, now=now)
        return count_groups(groups, inserted)

    def accept(self, pushes: Sequence[InboxPush], *, now: float) -> None:
        """Keep ``pushes`` in the inbox, in one transaction; durable on return. (PostgreSQL's
        one ``unnest`` statement; SQLite's store has its own, ``inserting.insert_pushes``.)"""
        if not pushes:
            return
        tokens = [push.token for push in pushes]
        data = [push.push for push in pushes]
        with self._write() as db:
            db.execute(self._sql.accept, {"received_at": now, "tokens": tokens, "pushes": data})

    def inbox(self, *, limit: int, after_id: int = 0) -> list[InboxPush]:
        """Up to ``limit`` pushes waiting in the inbox with ids over ``after_id``, oldest first."""
        with self._read() as db:
            rows = db.execute(self._sql.inbox, {"after_id": after_id, "limit": limit}).fetchall()
        return [
            InboxPush(bytes(push), token, id=int(id_), received_at=float(received_at))
            for id_, received_at, token, push in rows
        ]

    def inbox_count(self) -> int:
        """How many pushes wait in the inbox."""
        with self._read() as db:
            row = db.execute(self._sql.inbox_count).fetchone()
        return int(row[0]) if row else 0

    def expand(
        self, expanded: Sequence[tuple[int, Sequence[NewDelivery]]], *, now: float
    ) -> list[EnqueueResult | None]:
        """Take each inbox push out of the inbox and queue its deliveries, in one transaction;
        None for a push another process took first (nothing is queued for it)."""
        if not expanded:
            return []
        with self._write() as db:
            if self._sql.arrays:
                ids = [id_ for id_, _ in expanded]
                gone = {row[0] for row in db.execute(self._sql.take, {"ids": ids}).fetchall()}
                taken = [id_ in gone for id_, _ in expanded]
            else:
                taken = [
                    db.execute(self._sql.take, {"id": id_}).rowcount == 1 for id_, _ in expanded
                ]
            groups = [items for (_, items), took in zip(expanded, taken, strict=True) if took]
            inserted: set[str] = set()
            if any(groups):
                inserted = insert_groups(db, self._sql.placeholder, groups, now=now)
        counted = iter(count_groups(groups, inserted))
        return [next(counted) if took else None for took in taken]

    def lease(self, *, now: float, limit: int, lease_seconds: float) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries until ``now + lease_seconds``; count an attempt."""
        if limit <= 0:
            return []
        parameters = {"now": now, "lease_until": now + lease_seconds, "limit": limit}
        with self._bookkeeping() as db:
            rows = db.execute(self._sql.lease, parameters).fetchall()
        return sorted((delivery_from_row(row) for row in rows), key=lambda d: d.id)

    def _fenced(self, statement: str, delivery: Delivery, **values: object) -> bool:
        with self._bookkeeping() as db:
            parameters = {"id": delivery.id, "attempts": delivery.attempts, **values}
            return db.execute(statement, parameters).rowcount == 1

    def record(self, results: Sequence[AttemptResult], *, now: float) -> list[bool]:
        """Record the end of several leased attempts in one statement (kept on return, see
        ``_bookkeeping``); for each, False if its lease was lost (another worker took it over)
        and nothing changed.
        """
        if not results:
            return []
        values = record_parameters(results, now)
        with_attempts = self._sql.record_writes_attempts
        with self._bookkeeping(atomic=not with_attempts) as db:
            if len(results) == 1:
                cursor = db.execute(self._sql.record_one[results[0].state], values)
                recorded = [cursor.rowcount == 1]
            else:
                ids = {row[0] for row in db.execute(self._sql.record, values).fetchall()}
                recorded = [result.delivery.id in ids for result in results]
            if not with_attempts:
                # In the same transaction: the attempts shown are exactly the answers.
                for result, done in zip(results, recorded, strict=True):
                    if done:
                        self._record_attempt(db, result.delivery, result.state, now, result.error)
        return recorded

    def mark_delivered(self, delivery: Delivery, *, now: float) -> bool:
        """Record success; False if the lease was lost (another worker took it over)."""
        return self.record([AttemptResult(delivery, State.DELIVERED)], now=now)[0]

    def mark_waiting(
        self, delivery: Delivery, *, now: float, next_attempt_at: float, error: str
    ) -> bool:
        """Record a retryable failure and when to try again; False if the lease was lost."""
        waiting = AttemptResult(delivery, State.WAITING, next_attempt_at, error)
        return self.record([waiting], now=now)[0]

    def mark_dead(self, delivery: Delivery, *, now: float, error: str) -> bool:
        """Record a permanent failure (dead-letter list); False if the lease was lost."""
        return self.record([AttemptResult(delivery, State.DEAD, error=error)], now=now)[0]

    def release(self, delivery: Delivery, *, now: float) -> bool:
        """Give a leased delivery back without counting the attempt (graceful shutdown)."""
        del now
        return self._fenced(self._sql.release, delivery)

    def retry(self, delivery_id: int, *, now: float) -> bool:
        """Make a dead, waiting or pending delivery due now; False if unknown, final or leased."""
        with self._write() as db:
            return db.execute(self._sql.retry, {"id": delivery_id, "now": now}).rowcount == 1

    def retry_dead(self, *, now: float) -> int:
        """Make every dead delivery due now; return how many."""
        with self._write() as db:
            return db.execute(self._sql.retry_dead, {"now": now}).rowcount

    def get(self, delivery_id: int) -> Delivery | None:
        """One delivery by id."""
        with self._read() as db:
            row = db.execute(self._sql.get, {"id": delivery_id}).fetchone()
        return None if row is None else delivery_from_row(row)

    def list(
        self, *, state: State | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[Delivery]:
        """Deliveries, newest first, optionally of one state; page with ``before_id``."""
        parameters = {
            "state": None if state is None else state.value,
            "before_id": before_id,
            "limit": max(0, limit),
        }
        with self._read() as db:
            rows = db.execute(self._sql.list, parameters).fetchall()
        return [delivery_from_row(row) for row in rows]

    def counts(self) -> dict[State, int]:
        """How many deliveries are in each state (every state present, zero included)."""
        with self._read() as db:
            rows = db.execute(self._sql.counts).fetchall()
        counts = dict.fromkeys(State, 0)
        counts.update({State(state): int(number) for state, number in rows})
        return counts

    def oldest_due_created_at(self) -> float | None:
        """When the oldest commit not yet delivered or dead was queued (for the metrics)."""
        with self._read() as db:
            row = db.execute(self._sql.oldest_due).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def pending_bytes(self, token_fingerprint: str) -> int:
        """The bytes of body not yet delivered or dead for one token (the ingest's share)."""
        with self._read() as db:
            row = db.execute(self._sql.pending_bytes, {"token_fingerprint": token_fingerprint})
            found = row.fetchone()
        return 0 if found is None or found[0] is None else int(found[0])

    def prune(self, *, finished_before: float) -> int:
        """Delete delivered and dead rows finished before the given time; return how many.

        A delivered commit's dedupe key is kept, so it is never queued again; a dead one's is
        not, so a redelivery can try it anew.
        """
        parameters = {"finished_before": finished_before}
        with self._write() as db:
            db.execute(self._sql.keep_delivered_keys, parameters)
            return db.execute(self._sql.prune, parameters).rowcount
