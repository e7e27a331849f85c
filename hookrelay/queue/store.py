"""The durable queue's interface: what the receiver, the workers and the CLI may ask of a store.

Every store (``sqlite.py``, the embedded default; ``postgres.py``, for several replicas) passes
the same contract suite (``tests/queue/test_store_contract.py``). Times are seconds since the
epoch, passed in by the caller, so the store never reads a clock of its own.

A queued commit moves through the states of ``hookrelay.core.lifecycle`` (its table is the
spec, and the contract suite checks every store against it): pending → leased → delivered |
waiting | dead; waiting → leased again when due; leased → leased again, as a new attempt, once
its lease expires, which is how a crash re-delivers; released → pending; dead or waiting →
pending on a manual retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hookrelay.core.lifecycle import State

__all__ = [
    "AttemptResult",
    "Delivery",
    "EnqueueResult",
    "NewDelivery",
    "QueueStore",
    "State",
    "public_view",
]


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A commit to queue for one Tracker target.

    ``dedupe_key`` is target + token fingerprint + commit id: a second enqueue of the same key is
    a no-op, however it arrives (redelivery, another branch, another replica).
    """

    dedupe_key: str
    target_url: str
    token: str = field(repr=False)  # needed to deliver; never shown
    token_fingerprint: str
    commit_id: str
    body: bytes
    repository: str = ""
    branch: str = ""
    summary: str = ""


@dataclass(frozen=True, slots=True)
class Delivery:
    """A queued commit as the store holds it."""

    id: int
    dedupe_key: str
    target_url: str
    token: str = field(repr=False)  # needed to deliver; never shown
    token_fingerprint: str
    commit_id: str
    body: bytes
    repository: str
    branch: str
    summary: str
    state: State
    attempts: int
    created_at: float
    next_attempt_at: float
    first_attempt_at: float | None
    lease_until: float | None
    finished_at: float | None
    last_error: str


def public_view(delivery: Delivery) -> dict[str, object]:
    """What may be shown of a delivery (CLI, HTTP): everything but its token and body."""
    return {
        "id": delivery.id,
        "state": delivery.state.value,
        "attempts": delivery.attempts,
        "commit_id": delivery.commit_id,
        "repository": delivery.repository,
        "branch": delivery.branch,
        "summary": delivery.summary,
        "target_url": delivery.target_url,
        "token_fingerprint": delivery.token_fingerprint,
        "created_at": delivery.created_at,
        "next_attempt_at": delivery.next_attempt_at,
        "first_attempt_at": delivery.first_attempt_at,
        "lease_until": delivery.lease_until,
        "finished_at": delivery.finished_at,
        "last_error": delivery.last_error,
    }


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """How one leased attempt ended, to record: ``state`` is delivered, waiting (until
    ``next_attempt_at``) or dead, with ``error`` (Tracker's words) for the last two."""

    delivery: Delivery
    state: State
    next_attempt_at: float | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    """How many of the offered commits were queued, and how many were already known."""

    queued: int
    duplicates: int


class QueueStore(Protocol):
    """A durable queue of deliveries. Every method is safe to call from several threads."""

    def enqueue(self, items: Sequence[NewDelivery], *, now: float) -> EnqueueResult:
        """Queue ``items`` in one transaction; durable on return. Known dedupe keys are skipped."""
        ...

    def lease(self, *, now: float, limit: int, lease_seconds: float) -> list[Delivery]:
        """Take up to ``limit`` due deliveries (pending, waiting and due, or leased with an
        expired lease), mark them leased until ``now + lease_seconds`` and count an attempt.
        Two callers never lease the same delivery at once."""
        ...

    def record(self, results: Sequence[AttemptResult], *, now: float) -> list[bool]:
        """Record the end of several leased attempts at once; for each, False if its lease was
        lost (another worker took it over) and nothing changed. On return it survives the
        process; a power loss or database crash may undo the last instant of it, which only
        makes those commits due again (at least once, never lost)."""
        ...

    def mark_delivered(self, delivery: Delivery, *, now: float) -> bool:
        """Record success; False if the lease was lost (another worker took it over)."""
        ...

    def mark_waiting(
        self, delivery: Delivery, *, now: float, next_attempt_at: float, error: str
    ) -> bool:
        """Record a retryable failure and when to try again; False if the lease was lost."""
        ...

    def mark_dead(self, delivery: Delivery, *, now: float, error: str) -> bool:
        """Record a permanent failure (dead-letter list); False if the lease was lost."""
        ...

    def release(self, delivery: Delivery, *, now: float) -> bool:
        """Give a leased delivery back without counting the attempt (graceful shutdown)."""
        ...

    def retry(self, delivery_id: int, *, now: float) -> bool:
        """Make a dead, waiting or pending delivery due now (a fresh give-up horizon); False if
        there is no such delivery, or it is delivered (final) or leased (in flight)."""
        ...

    def retry_dead(self, *, now: float) -> int:
        """Make every dead delivery due now; return how many."""
        ...

    def get(self, delivery_id: int) -> Delivery | None:
        """One delivery by id."""
        ...

    def list(
        self, *, state: State | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[Delivery]:
        """Deliveries, newest first, optionally of one state; page with ``before_id``."""
        ...

    def counts(self) -> dict[State, int]:
        """How many deliveries are in each state."""
        ...

    def oldest_due_created_at(self) -> float | None:
        """When the oldest commit not yet delivered or dead was queued (for the metrics)."""
        ...

    def prune(self, *, finished_before: float) -> int:
        """Delete delivered and dead rows finished before the given time; return how many."""
        ...

    def ping(self) -> None:
        """Raise ``StoreError`` unless the store can be read and written (readiness)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
