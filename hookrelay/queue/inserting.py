"""Queueing commits: many rows in one statement, and what each request's commits became.

A write pays one round trip per statement (and, for SQLite, one release of the GIL per
statement rather than per row), so commits are inserted up to 1,024 in one
``INSERT … SELECT … FROM (VALUES …)``. Each statement's row count is a power of two (the rows
past the commits are NULL and filtered out): a compiled statement of a thousand rows holds
megabytes in the driver's statement cache, and with one shape per count every push of a new
size would leave another there for good; with powers of two there are eleven at most.

A commit is a duplicate while its row exists, and after pruning while its key is kept in
``delivered_keys``: a branch merged months later must not post its commits again.
``RETURNING`` names the rows actually inserted, so each request (a group) gets its own counts
even when several share a transaction (``hookrelay.queue.group_commit``). Shared by both
stores: only the placeholder differs (``?`` for sqlite3, ``%s`` for psycopg).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from hookrelay.queue.rows import NEW_COLUMNS, new_delivery_row
from hookrelay.queue.store import EnqueueResult, InboxPush, NewDelivery

__all__ = ["ROWS_A_STATEMENT", "count_groups", "insert_groups", "insert_pushes"]

# The columns a ``NewDelivery`` fills (``hookrelay.queue.rows``), then the ones every new row
# starts with. VALUES columns are column1..columnN in both databases. (SQLite needs the WHERE
# clause to read ON CONFLICT as the upsert clause.)
_COLUMNS = len(NEW_COLUMNS)
_INSERT_MANY = """
INSERT INTO deliveries ({columns}, state, attempts, created_at, next_attempt_at)
SELECT {values}, 'pending', 0, {{now}}, {{now}}
FROM (VALUES {{rows}}) AS v
WHERE v.{key} IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM delivered_keys WHERE delivered_keys.dedupe_key = v.{key})
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING dedupe_key
""".format(  # noqa: S608 - the names of NewDelivery's fields only
    key=f"column{NEW_COLUMNS.index('dedupe_key') + 1}",
    columns=", ".join(NEW_COLUMNS),
    values=", ".join(f"column{n}" for n in range(1, _COLUMNS + 1)),
)
ROWS_A_STATEMENT = 1024  # 12,288 parameters: within SQLite's 32,766 and PostgreSQL's 65,535


def _shape(count: int) -> int:
    """The row count of the statement that inserts ``count`` commits: the next power of two."""
    return 1 << (count - 1).bit_length()


@functools.lru_cache(maxsize=16)
def _statement(rows: int, placeholder: str) -> str:
    row = "(" + ", ".join([placeholder] * _COLUMNS) + ")"
    return _INSERT_MANY.format(now=placeholder, rows=", ".join([row] * rows))


def insert_groups(
    db: Any, placeholder: str, groups: Sequence[Sequence[NewDelivery]], *, now: float
) -> set[str]:
    """Insert every group's commits inside the open transaction ``db``; the keys inserted."""
    items = [item for group in groups for item in group]
    inserted: set[str] = set()
    for start in range(0, len(items), ROWS_A_STATEMENT):
        piece = items[start : start + ROWS_A_STATEMENT]
        parameters: list[Any] = [now, now]
        for item in piece:
            parameters += new_delivery_row(item)
        rows = _shape(len(piece))
        parameters += [None] * (_COLUMNS * (rows - len(piece)))
        cursor = db.execute(_statement(rows, placeholder), parameters)
        inserted.update(row[0] for row in cursor.fetchall())
    return inserted


@functools.lru_cache(maxsize=16)
def _inbox_statement(rows: int) -> str:
    values = ", ".join(["(?, ?, ?)"] * rows)
    return (
        "INSERT INTO inbox (received_at, token, push) "  # noqa: S608 - placeholders only
        f"SELECT column1, column2, column3 FROM (VALUES {values}) WHERE column3 IS NOT NULL"
    )


def insert_pushes(db: Any, pushes: Sequence[InboxPush], *, now: float) -> None:
    """Keep ``pushes`` in SQLite's inbox on ``db``, one statement for up to ``ROWS_A_STATEMENT``
    (atomic on its own, so ``db`` may be in autocommit mode; more need a transaction):
    each statement releases and takes back the GIL, and under load taking it back waits for
    the event loop's thread. (PostgreSQL keeps them with one ``unnest`` statement, ``sql.py``.)
    """
    for start in range(0, len(pushes), ROWS_A_STATEMENT):
        piece = pushes[start : start + ROWS_A_STATEMENT]
        rows = _shape(len(piece))
        parameters: list[Any] = []
        for push in piece:
            parameters += (now, push.token, push.push)
        parameters += [None] * (3 * (rows - len(piece)))
        db.execute(_inbox_statement(rows), parameters)


def count_groups(
    groups: Sequence[Sequence[NewDelivery]], inserted: set[str]
) -> list[EnqueueResult]:
    """What each group's commits became, given the keys inserted; a key two groups share was
    queued by the first of them."""
    left = set(inserted)
    results = []
    for group in groups:
        queued = 0
        for item in group:
            if item.dedupe_key in left:
                left.discard(item.dedupe_key)
                queued += 1
        results.append(EnqueueResult(queued=queued, duplicates=len(group) - queued))
    return results
