"""The columns every store selects, in one order, and the ``Delivery`` a row of them makes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hookrelay.queue.store import Delivery, State, TokenSource

__all__ = ["COLUMNS", "delivery_from_row", "story_ids_column", "story_ids_from_column"]

COLUMNS = (
    "id, dedupe_key, target_url, token, token_fingerprint, commit_id, body, repository, branch, "
    "summary, state, attempts, created_at, next_attempt_at, first_attempt_at, lease_until, "
    "finished_at, last_error, repaired, token_source, story_ids"
)


def delivery_from_row(row: Sequence[Any]) -> Delivery:
    """Build a ``Delivery`` from a row selected with ``COLUMNS``."""
    (
        id_,
        dedupe_key,
        target_url,
        token,
        token_fingerprint,
        commit_id,
        body,
        repository,
        branch,
        summary,
        state,
        attempts,
        created_at,
        next_attempt_at,
        first_attempt_at,
        lease_until,
        finished_at,
        last_error,
        repaired,
        token_source,
        story_ids,
    ) = row
    return Delivery(
        id=int(id_),
        dedupe_key=dedupe_key,
        target_url=target_url,
        token=token,
        token_fingerprint=token_fingerprint,
        commit_id=commit_id,
        body=bytes(body),
        repository=repository,
        branch=branch,
        summary=summary,
        state=State(state),
        attempts=int(attempts),
        created_at=float(created_at),
        next_attempt_at=float(next_attempt_at),
        first_attempt_at=_float_or_none(first_attempt_at),
        lease_until=_float_or_none(lease_until),
        finished_at=_float_or_none(finished_at),
        last_error=last_error,
        repaired=repaired,
        token_source=TokenSource(token_source),
        story_ids=story_ids_from_column(story_ids),
    )


def story_ids_column(story_ids: Sequence[int]) -> str:
    """How a delivery's story IDs are stored: ``' 123 456 '``, so ``LIKE '% 123 %'`` finds one."""
    return f" {' '.join(str(i) for i in story_ids)} " if story_ids else ""


def story_ids_from_column(text: str) -> tuple[int, ...]:
    """The story IDs of a ``story_ids`` column."""
    return tuple(int(part) for part in text.split())


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
