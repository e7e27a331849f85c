"""The workers' statements: lease due commits, and record how their attempts ended.

Both are single statements, shared by SQLite and PostgreSQL (``sql.py`` puts them in each
driver's placeholder style), so each is atomic even where it runs as its own transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from hookrelay.queue.rows import COLUMNS
from hookrelay.queue.store import AttemptResult

__all__ = [
    "LEASE",
    "RECORD_ONE",
    "RECORD_ONE_POSTGRES",
    "RECORD_POSTGRES",
    "RECORD_SQLITE",
    "parameters",
]

# One limited lookup per state, each walking an index in order (deliveries_due_order, or
# deliveries_lease for expired leases), so leasing costs the same with 1,000 or 100,000 queued;
# only the few rows they find are merged and sorted. (An OR over the states made both databases
# read and sort every due row.) PostgreSQL locks what each lookup finds, skipping rows another
# replica holds.
LEASE = f"""
WITH due_pending AS (
    SELECT id, next_attempt_at FROM deliveries
    WHERE state = 'pending' AND next_attempt_at <= :now
    ORDER BY state, next_attempt_at, id LIMIT :limit {{row_lock}}
), due_waiting AS (
    SELECT id, next_attempt_at FROM deliveries
    WHERE state = 'waiting' AND next_attempt_at <= :now
    ORDER BY state, next_attempt_at, id LIMIT :limit {{row_lock}}
), lease_expired AS (
    SELECT id, next_attempt_at FROM deliveries
    WHERE state = 'leased' AND lease_until <= :now
    ORDER BY state, lease_until LIMIT :limit {{row_lock}}
), chosen AS (
    SELECT id FROM (
        SELECT id, next_attempt_at FROM due_pending
        UNION ALL SELECT id, next_attempt_at FROM due_waiting
        UNION ALL SELECT id, next_attempt_at FROM lease_expired
    ) AS due
    ORDER BY next_attempt_at, id
    LIMIT :limit
)
UPDATE deliveries
SET state = 'leased', attempts = attempts + 1, lease_until = :lease_until,
    first_attempt_at = COALESCE(first_attempt_at, :now)
WHERE id IN (SELECT id FROM chosen)
RETURNING {COLUMNS}
"""  # noqa: S608 - COLUMNS is a constant of this package

# The end of several attempts in one statement, each fenced: a row whose lease was taken over
# (state or attempts changed) is not in RETURNING. Delivered and dead are finished now; waiting
# and dead keep the error. ``{results}`` reads the JSON list of results in each database's way.
# Each result must be one primary-key lookup, not a walk over every leased row (and the dead
# index entries updates leave there) through the state index: SQLite's state test is
# ``+state``, which no index serves; PostgreSQL is given the ids as an array (``:ids``) and
# tests ``state || ''``, which no index serves either (with a plain ``state =`` it walked the
# leased part of deliveries_due_order: 0.8 ms for 4 results, more than 4 single updates).
_RECORD = """
UPDATE deliveries
SET state = r.state,
    finished_at = CASE WHEN r.state = 'waiting' THEN deliveries.finished_at ELSE :now END,
    next_attempt_at = COALESCE(r.next_attempt_at, deliveries.next_attempt_at),
    lease_until = NULL,
    last_error = CASE WHEN r.state = 'delivered' THEN deliveries.last_error ELSE r.error END
FROM {results}
WHERE {lookup} AND deliveries.id = r.id AND deliveries.attempts = r.attempts
RETURNING deliveries.id
"""

_RESULTS_SQLITE = """(
    SELECT value ->> 'id' AS id, value ->> 'attempts' AS attempts, value ->> 'state' AS state,
           value ->> 'next_attempt_at' AS next_attempt_at, value ->> 'error' AS error
    FROM json_each(:results)
) AS r"""

_RESULTS_POSTGRES = """jsonb_to_recordset(CAST(:results AS jsonb)) AS r(
    id bigint, attempts integer, state text, next_attempt_at double precision, error text
)"""

RECORD_SQLITE = _RECORD.format(results=_RESULTS_SQLITE, lookup="+deliveries.state = 'leased'")

# Each result is also an attempt in the operator's log (the ``attempts`` table), written in the
# same transaction as the result. PostgreSQL does both in one statement (one round trip: the
# UPDATE in a CTE, its rows inserted); SQLite, which has no DML in a CTE, runs the INSERT after it
# in one transaction (``SqlStore.record``).
_ATTEMPTS_OF_DONE = """
INSERT INTO attempts (delivery_id, number, at, outcome, answer)
SELECT id, attempts, :now, state, CASE WHEN state = 'delivered' THEN '' ELSE error END FROM done
RETURNING delivery_id
"""
RECORD_POSTGRES = (
    "WITH done AS ("
    + _RECORD.format(
        results=_RESULTS_POSTGRES,
        lookup="deliveries.id = ANY(CAST(:ids AS bigint[])) AND deliveries.state || '' = 'leased'",
    ).replace(
        "RETURNING deliveries.id",
        "RETURNING deliveries.id AS id, deliveries.attempts AS attempts, r.state AS state, "
        "r.error AS error",
    )
    + ")"
    + _ATTEMPTS_OF_DONE
)


# One result alone, the usual case, is cheaper as a plain fenced update per state (no JSON to
# read): the same changes as the statements above.
_FENCE = "WHERE id = :id AND state = 'leased' AND attempts = :attempts"

RECORD_ONE: dict[str, str] = {
    "delivered": f"""
UPDATE deliveries SET state = 'delivered', finished_at = :now, lease_until = NULL {_FENCE}
""",  # noqa: S608 - constants only
    "waiting": f"""
UPDATE deliveries
SET state = 'waiting', next_attempt_at = :next_attempt_at, lease_until = NULL, last_error = :error
{_FENCE}
""",  # noqa: S608 - constants only
    "dead": f"""
UPDATE deliveries
SET state = 'dead', finished_at = :now, lease_until = NULL, last_error = :error
{_FENCE}
""",  # noqa: S608 - constants only
}


def parameters(results: Sequence[AttemptResult], now: float) -> dict[str, object]:
    """The parameters of ``RECORD_ONE`` (one result) or the record statements (a JSON list of
    them, and their ids); errors made storable: UTF-8 without NUL, which PostgreSQL refuses."""
    rows = [
        {
            "id": result.delivery.id,
            "attempts": result.delivery.attempts,
            "state": result.state.value,
            "next_attempt_at": result.next_attempt_at,
            "error": result.error.encode("utf-8", "replace").decode().replace("\x00", ""),
        }
        for result in results
    ]
    if len(rows) == 1:
        return {**rows[0], "now": now}
    return {"now": now, "results": json.dumps(rows), "ids": [row["id"] for row in rows]}


RECORD_ONE_POSTGRES: dict[str, str] = {
    state: (
        f"WITH done AS ({sql.strip()}\nRETURNING id, attempts, '{state}' AS state, "
        f"{'NULL' if state == 'delivered' else 'CAST(:error AS text)'} AS error)"
        + _ATTEMPTS_OF_DONE
    )
    for state, sql in RECORD_ONE.items()
}
"""``RECORD_ONE`` for PostgreSQL, writing the attempt in the same statement."""
