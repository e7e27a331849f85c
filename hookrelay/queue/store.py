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

import builtins
import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hookrelay.core.lifecycle import State

# A commit to queue is what the routing plans, defined there so the core stays pure.
from hookrelay.core.routing import NewDelivery, TokenSource

__all__ = [
    "MAX_ROW_ID",
    "PRIVATE_FIELDS",
    "PUBLIC_FIELDS",
    "Attempt",
    "AttemptResult",
    "Delivery",
    "DeliveryFilter",
    "EnqueueResult",
    "InboxPush",
    "NewDelivery",
    "Overview",
    "QueueStore",
    "Redirect",
    "RetryOutcome",
    "State",
    "TargetHealth",
    "TokenSource",
    "public_view",
]


MAX_ROW_ID = 2**63 - 1
"""The largest row id: ids are signed 64-bit integers in SQLite and PostgreSQL (the queue's and
the emulator's), so a larger number, given as an id, names no row."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery(NewDelivery):
    """A queued commit as the store holds it: the commit as it was queued (``NewDelivery``'s
    fields, as given), and what the store keeps of its delivery.

    ``token_source`` is ``UNKNOWN`` for rows queued before hookrelay recorded it.
    """

    id: int
    state: State
    attempts: int
    created_at: float
    next_attempt_at: float
    first_attempt_at: float | None
    lease_until: float | None
    finished_at: float | None
    last_error: str


PRIVATE_FIELDS = frozenset({"token", "body"})
"""The fields of a ``Delivery`` never shown: the token (it posts to Tracker) and the body."""
_SHOWN_FIRST = ("id", "state", "attempts", "commit_id", "repository", "branch", "summary")
_SHOWN_LAST = ("repaired", "token_source", "story_ids")
PUBLIC_FIELDS = (
    _SHOWN_FIRST
    + tuple(
        f.name
        for f in dataclasses.fields(Delivery)
        if f.name not in PRIVATE_FIELDS | {*_SHOWN_FIRST, *_SHOWN_LAST}
    )
    + _SHOWN_LAST
)
"""What ``public_view`` shows, in the order the CLI prints it: every field but the private ones."""


def public_view(delivery: Delivery) -> dict[str, object]:
    """What may be shown of a delivery (CLI, HTTP): everything but its token and body, with
    enums as their values and story IDs as a list (JSON's types)."""
    view: dict[str, object] = {}
    for name in PUBLIC_FIELDS:
        value = getattr(delivery, name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        view[name] = value
    return view


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


@dataclass(frozen=True, slots=True)
class InboxPush:
    """A push accepted while the receiver was busy, durable but not yet expanded into
    deliveries: the push as read and checked (``hookrelay.core.webhooks.encode_push``) and the
    ``?token=`` its hook URL carried. ``id`` and ``received_at`` are the store's (0 until
    stored)."""

    push: bytes = field(repr=False)
    token: str | None = field(repr=False)
    id: int = 0
    received_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """One post of a delivery to Tracker: its number, when it ended, and what Tracker answered."""

    number: int
    at: float
    outcome: State
    answer: str


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    """Which deliveries the dashboard lists; an empty field matches every delivery."""

    state: State | None = None
    repository: str = ""
    story_id: int | None = None
    commit_prefix: str = ""


@dataclass(frozen=True, slots=True)
class TargetHealth:
    """One repository's, or one Tracker target's, last delivery and failures."""

    name: str
    total: int
    last_delivered_at: float | None
    waiting: int
    dead: int


@dataclass(frozen=True, slots=True)
class Overview:
    """What the dashboard's first page shows, read in one go."""

    counts: dict[State, int]
    oldest_pending_at: float | None
    delivered_per_minute: tuple[int, ...]
    """Deliveries in each of the last 60 minutes, oldest minute first."""
    dead_last_day: int
    repositories: tuple[TargetHealth, ...]
    targets: tuple[TargetHealth, ...]


@dataclass(frozen=True, slots=True)
class Redirect:
    """Where a retried delivery goes now: today's target and token, its body for that target."""

    target_url: str
    token: str = field(repr=False)
    token_fingerprint: str
    dedupe_key: str
    body: bytes


class RetryOutcome(enum.StrEnum):
    """What a retry did."""

    RETRIED = "retried"
    NOT_RETRYABLE = "not_retryable"
    """No such delivery, or it is delivered (final) or leased (in flight)."""
    ALREADY_QUEUED = "already_queued"
    """Today's target and token already have this commit (queued or delivered)."""


class QueueStore(Protocol):
    """A durable queue of deliveries. Every method is safe to call from several threads."""

    def enqueue(self, items: Sequence[NewDelivery], *, now: float) -> EnqueueResult:
        """Queue ``items`` in one transaction; durable on return. Known dedupe keys are skipped."""
        ...

    def enqueue_groups(
        self, groups: Sequence[Sequence[NewDelivery]], *, now: float
    ) -> list[EnqueueResult]:
        """Queue several groups of items in one transaction; one result per group, in order."""
        ...

    def accept(self, pushes: Sequence[InboxPush], *, now: float) -> None:
        """Keep ``pushes`` in the inbox, in one transaction; durable on return."""
        ...

    def inbox(self, *, limit: int, after_id: int = 0) -> builtins.list[InboxPush]:
        """Up to ``limit`` pushes waiting in the inbox with ids over ``after_id``, oldest first."""
        ...

    def inbox_count(self) -> int:
        """How many pushes wait in the inbox."""
        ...

    def expand(
        self, expanded: Sequence[tuple[int, Sequence[NewDelivery]]], *, now: float
    ) -> builtins.list[EnqueueResult | None]:
        """In one transaction, durable on return: take each inbox push (by id) out of the inbox
        and queue its deliveries; for each, what was queued, or None if the push was no longer
        there (another process expanded it) and nothing was queued for it."""
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

    def pending_bytes(self, token_fingerprint: str) -> int:
        """The bytes of body not yet delivered or dead for one token (the ingest's share)."""
        ...

    def prune(self, *, finished_before: float) -> int:
        """Delete delivered and dead rows finished before the given time; return how many."""
        ...

    def retry_redirected(self, delivery_id: int, redirect: Redirect, *, now: float) -> RetryOutcome:
        """Like ``retry``, sending the delivery to ``redirect``'s target with its token and body."""
        ...

    def discard(self, delivery_id: int) -> bool:
        """Delete a dead delivery (and its attempts); False unless it exists and is dead."""
        ...

    def dead_ids(self, *, repository: str | None = None) -> builtins.list[int]:
        """Ids of every dead delivery, or of one repository's (any case), oldest first."""
        ...

    def attempts(self, delivery_id: int) -> builtins.list[Attempt]:
        """Every post of a delivery that ended in an answer, oldest first."""
        ...

    def find(
        self, where: DeliveryFilter, *, limit: int = 50, before_id: int | None = None
    ) -> builtins.list[Delivery]:
        """Deliveries matching ``where``, newest first; page with ``before_id``."""
        ...

    def overview(self, *, now: float) -> Overview:
        """Counts, the oldest pending commit, the last hour's rate and the health of each
        repository and target."""
        ...

    def known_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` are queued now or were delivered (what ``enqueue`` would skip)."""
        ...

    def ping(self) -> None:
        """Raise ``StoreError`` unless the store can be read and written (readiness)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
