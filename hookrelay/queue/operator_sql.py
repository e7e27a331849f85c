"""What the operator's tools ask of a store (dashboard, retry with today's settings, backfill),
for SQLite and PostgreSQL alike.

``OperatorQueries`` is a base of ``SqlStore``: it adds the queries the dashboard shows, the
attempt log the workers' marks write into (``_record_attempt``, inside the mark's own
transaction), moving a retried delivery to today's target and token, discarding a dead letter,
and the dedupe look-up ``hookrelay backfill --dry-run`` makes. Statements are written once with
``:name`` placeholders and turned into ``%(name)s`` for psycopg, as in ``sql.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from hookrelay.queue.rows import COLUMNS, delivery_from_row, placeholders
from hookrelay.queue.store import (
    Attempt,
    Delivery,
    DeliveryFilter,
    Overview,
    Redirect,
    RetryOutcome,
    State,
    TargetHealth,
)

__all__ = ["Cursor", "OperatorQueries", "OperatorStatements", "Transaction"]

MINUTES_SHOWN = 60
"""The dashboard's rate covers the last hour, a minute a bar."""

_LARGEST_GROUPS = 200
"""At most this many repositories and targets in the overview (the busiest first)."""

_RECORD_ATTEMPT = """
INSERT INTO attempts (delivery_id, number, at, outcome, answer)
VALUES (:id, :number, :at, :outcome, :answer)
"""

_ATTEMPTS = """
SELECT number, at, outcome, answer FROM attempts WHERE delivery_id = :id ORDER BY id
"""

# Another delivery of the same commit to today's target with today's token, queued or already
# delivered: redirecting onto it would post the commit twice.
_KEY_TAKEN = """
SELECT 1 FROM deliveries WHERE dedupe_key = :dedupe_key AND id <> :id
UNION ALL
SELECT 1 FROM delivered_keys WHERE dedupe_key = :dedupe_key
"""

_REDIRECT = """
UPDATE deliveries
SET state = 'pending', next_attempt_at = :now, first_attempt_at = NULL, finished_at = NULL,
    lease_until = NULL, target_url = :target_url, token = :token,
    token_fingerprint = :token_fingerprint, dedupe_key = :dedupe_key, body = :body
WHERE id = :id AND state IN ('pending', 'waiting', 'dead')
"""

_DISCARD = "DELETE FROM deliveries WHERE id = :id AND state = 'dead'"

_DEAD_IDS = """
SELECT id FROM deliveries
WHERE state = 'dead' AND LOWER(repository) = COALESCE(:repository, LOWER(repository))
ORDER BY id
"""

# One statement for every combination of filters: an unused filter matches every row ('%').
_FIND = f"""
SELECT {COLUMNS} FROM deliveries
WHERE state = COALESCE(:state, state)
  AND id < COALESCE(:before_id, id + 1)
  AND LOWER(repository) = COALESCE(:repository, LOWER(repository))
  AND LOWER(commit_id) LIKE :commit_like ESCAPE '!'
  AND story_ids LIKE :story_like
ORDER BY id DESC
LIMIT :limit
"""  # noqa: S608 - COLUMNS is a constant of this package

_PER_MINUTE = """
SELECT {minute} AS minute, COUNT(*) FROM deliveries
WHERE state = 'delivered' AND finished_at >= :since AND finished_at < :now
GROUP BY minute
"""

_DEAD_SINCE = "SELECT COUNT(*) FROM deliveries WHERE state = 'dead' AND finished_at >= :since"

_HEALTH = """
SELECT {column}, COUNT(*),
       MAX(CASE WHEN state = 'delivered' THEN finished_at END),
       SUM(CASE WHEN state = 'waiting' THEN 1 ELSE 0 END),
       SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END)
FROM deliveries
GROUP BY {column}
ORDER BY COUNT(*) DESC, {column}
LIMIT {limit}
"""

_KNOWN_KEY = """
SELECT 1 FROM deliveries WHERE dedupe_key = :dedupe_key
UNION ALL
SELECT 1 FROM delivered_keys WHERE dedupe_key = :dedupe_key
"""


@dataclass(frozen=True, slots=True)
class OperatorStatements:
    """The operator's statements in one driver's placeholder style."""

    record_attempt: str
    attempts: str
    key_taken: str
    redirect: str
    discard: str
    dead_ids: str
    find: str
    per_minute: str
    dead_since: str
    repository_health: str
    target_health: str
    known_key: str

    @classmethod
    def for_driver(cls, *, pyformat: bool) -> OperatorStatements:
        """The statements with ``:name`` placeholders, or ``%(name)s`` when ``pyformat``
        (psycopg, which is also PostgreSQL: its casts round, so minutes are floored)."""

        def style(sql: str) -> str:
            return placeholders(sql, pyformat=pyformat)

        # SQLite's CAST truncates, which floors the non-negative offsets here.
        minute = (
            "FLOOR((finished_at - :since) / 60)"
            if pyformat
            else "CAST((finished_at - :since) / 60 AS INTEGER)"
        )
        return cls(
            record_attempt=style(_RECORD_ATTEMPT),
            attempts=style(_ATTEMPTS),
            key_taken=style(_KEY_TAKEN),
            redirect=style(_REDIRECT),
            discard=style(_DISCARD),
            dead_ids=style(_DEAD_IDS),
            find=style(_FIND),
            per_minute=style(_PER_MINUTE.format(minute=minute)),
            dead_since=style(_DEAD_SINCE),
            repository_health=style(_HEALTH.format(column="repository", limit=_LARGEST_GROUPS)),
            target_health=style(_HEALTH.format(column="target_url", limit=_LARGEST_GROUPS)),
            known_key=style(_KNOWN_KEY),
        )


class Cursor(Protocol):
    """What both drivers' ``execute`` returns (sqlite3 and psycopg cursors alike)."""

    @property
    def rowcount(self) -> int:
        """Rows the statement changed."""
        ...

    def fetchone(self) -> Any:
        """The next row, or None."""
        ...

    def fetchall(self) -> list[Any]:
        """Every remaining row."""
        ...


class Transaction(Protocol):
    """Runs statements inside one transaction."""

    def execute(self, sql: str, params: Mapping[str, Any] = ..., /) -> Cursor:
        """Run ``sql`` with named parameters."""
        ...


def _like_prefix(text: str) -> str:
    """A LIKE pattern matching what starts with ``text`` (``!`` escapes the wildcards)."""
    escaped = text.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"{escaped}%"


class OperatorQueries:
    """The operator's queries, on top of a store's ``_write()``, ``_read()`` and ``_ops``."""

    _ops: OperatorStatements

    def _write(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def counts(self) -> dict[State, int]:
        """How many deliveries are in each state (a subclass provides it)."""
        raise NotImplementedError

    def oldest_due_created_at(self) -> float | None:
        """When the oldest commit not yet delivered or dead was queued (a subclass provides it)."""
        raise NotImplementedError

    def _record_attempt(
        self, db: Transaction, delivery: Delivery, outcome: State, at: float, answer: str
    ) -> None:
        db.execute(
            self._ops.record_attempt,
            {
                "id": delivery.id,
                "number": delivery.attempts,
                "at": at,
                "outcome": outcome.value,
                "answer": answer,
            },
        )

    def attempts(self, delivery_id: int) -> list[Attempt]:
        """Every post of a delivery that ended in an answer, oldest first."""
        with self._read() as db:
            rows = db.execute(self._ops.attempts, {"id": delivery_id}).fetchall()
        return [
            Attempt(number=int(n), at=float(at), outcome=State(outcome), answer=answer)
            for n, at, outcome, answer in rows
        ]

    def retry_redirected(self, delivery_id: int, redirect: Redirect, *, now: float) -> RetryOutcome:
        """Make a dead, waiting or pending delivery due now, posting it to ``redirect``'s target
        with its token and body. Refused when today's target and token already have the commit."""
        parameters = {
            "id": delivery_id,
            "now": now,
            "target_url": redirect.target_url,
            "token": redirect.token,
            "token_fingerprint": redirect.token_fingerprint,
            "dedupe_key": redirect.dedupe_key,
            "body": redirect.body,
        }
        with self._write() as db:
            taken = db.execute(
                self._ops.key_taken, {"id": delivery_id, "dedupe_key": redirect.dedupe_key}
            ).fetchone()
            if taken is not None:
                return RetryOutcome.ALREADY_QUEUED
            if db.execute(self._ops.redirect, parameters).rowcount != 1:
                return RetryOutcome.NOT_RETRYABLE
        return RetryOutcome.RETRIED

    def discard(self, delivery_id: int) -> bool:
        """Delete a dead delivery and its attempts; False unless it exists and is dead."""
        with self._write() as db:
            return int(db.execute(self._ops.discard, {"id": delivery_id}).rowcount) == 1

    def dead_ids(self, *, repository: str | None = None) -> list[int]:
        """Ids of every dead delivery, or of one repository's (any case), oldest first."""
        name = None if repository is None else repository.lower()
        with self._read() as db:
            rows = db.execute(self._ops.dead_ids, {"repository": name}).fetchall()
        return [int(row[0]) for row in rows]

    def find(
        self, where: DeliveryFilter, *, limit: int = 50, before_id: int | None = None
    ) -> list[Delivery]:
        """Deliveries matching ``where``, newest first; page with ``before_id``."""
        parameters = {
            "state": None if where.state is None else where.state.value,
            "before_id": before_id,
            "repository": where.repository.lower() or None,
            "commit_like": _like_prefix(where.commit_prefix),
            "story_like": "%" if where.story_id is None else f"% {where.story_id} %",
            "limit": max(0, limit),
        }
        with self._read() as db:
            rows = db.execute(self._ops.find, parameters).fetchall()
        return [delivery_from_row(row) for row in rows]

    def overview(self, *, now: float) -> Overview:
        """Counts, the oldest commit not yet delivered or dead, deliveries a minute over the last
        hour, dead letters of the last day, and each repository's and target's health."""
        since = now - MINUTES_SHOWN * 60
        with self._read() as db:
            minutes = db.execute(self._ops.per_minute, {"since": since, "now": now}).fetchall()
            dead_row = db.execute(self._ops.dead_since, {"since": now - 86400}).fetchone()
            repositories = db.execute(self._ops.repository_health).fetchall()
            targets = db.execute(self._ops.target_health).fetchall()
        per_minute = [0] * MINUTES_SHOWN
        for minute, count in minutes:
            index = int(minute)
            if 0 <= index < MINUTES_SHOWN:
                per_minute[index] += int(count)
        return Overview(
            counts=self.counts(),
            oldest_pending_at=self.oldest_due_created_at(),
            delivered_per_minute=tuple(per_minute),
            dead_last_day=0 if dead_row is None else int(dead_row[0]),
            repositories=tuple(_health(repositories)),
            targets=tuple(_health(targets)),
        )

    def known_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` are queued now or were delivered (what ``enqueue`` would skip)."""
        known: set[str] = set()
        with self._read() as db:
            for key in dict.fromkeys(keys):
                if db.execute(self._ops.known_key, {"dedupe_key": key}).fetchone() is not None:
                    known.add(key)
        return known


def _health(rows: Sequence[Sequence[Any]]) -> Iterator[TargetHealth]:
    for name, total, last_delivered_at, waiting, dead in rows:
        yield TargetHealth(
            name=str(name),
            total=int(total),
            last_delivered_at=None if last_delivered_at is None else float(last_delivered_at),
            waiting=int(waiting or 0),
            dead=int(dead or 0),
        )
