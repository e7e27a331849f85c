"""The life of a queued commit, as one table, and the pure decision a delivery attempt ends in.

Theory of operation. A commit is queued *pending* and due at once. A worker *leases* due
commits: the store marks them *leased* until ``now + lease_seconds``, counts an attempt and
remembers the first attempt's time. The worker posts the commit to Tracker and ``decide``
turns Tracker's answer into the next state: *delivered*; *waiting* until a back-off time
(``hookrelay.core.backoff``, or Tracker's ``Retry-After`` when it asks for longer); or *dead*,
with Tracker's own error text, when Tracker refused for good or the give-up horizon has passed.
A worker that stops before posting *releases* its lease, which un-counts the attempt. A worker
that crashes simply lets its lease expire; the commit is then due again and the next lease
counts a new attempt. An operator may *retry* a dead or waiting commit, which makes it pending
and due now, with a fresh give-up horizon.

===========  =========  ===========  =======================================================
state        event      next state   when and what else changes
===========  =========  ===========  =======================================================
pending      lease      leased       due (``next_attempt_at <= now``); attempts + 1
waiting      lease      leased       due (``next_attempt_at <= now``); attempts + 1
leased       lease      leased       the lease expired (``lease_until <= now``); attempts + 1
leased       deliver    delivered    finished now
leased       fail       waiting      ``next_attempt_at`` from ``decide``; error kept
leased       refuse     dead         finished now; error kept
leased       release    pending      attempts - 1 (the attempt was never made)
pending      retry      pending      due now
waiting      retry      pending      due now, fresh give-up horizon
dead         retry      pending      due now, fresh give-up horizon
===========  =========  ===========  =======================================================

Any other (state, event) pair changes nothing. ``deliver``, ``fail``, ``refuse`` and
``release`` are *fenced*: they apply only while the commit is still leased with the attempt
count the worker leased it with, so a worker whose lease expired and was taken over cannot
overwrite the newer attempt's result. Attempts never go below the count of a lease another
worker may still hold, which is what makes the attempt count a fence. Delivered is final:
retrying it would post the commit twice.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from hookrelay.core.backoff import RetryPolicy, next_delay, should_give_up
from hookrelay.core.tracker_api import Delivered, Outcome, Refused, RetryLater

__all__ = [
    "TRANSITIONS",
    "Decision",
    "Event",
    "State",
    "decide",
    "is_due",
    "next_state",
]


class State(enum.StrEnum):
    """Where a queued commit is in its life."""

    PENDING = "pending"
    LEASED = "leased"
    WAITING = "waiting"
    DELIVERED = "delivered"
    DEAD = "dead"


class Event(enum.StrEnum):
    """What can happen to a queued commit."""

    LEASE = "lease"
    DELIVER = "deliver"
    FAIL = "fail"
    REFUSE = "refuse"
    RELEASE = "release"
    RETRY = "retry"


TRANSITIONS: Final[Mapping[tuple[State, Event], State]] = MappingProxyType(
    {
        (State.PENDING, Event.LEASE): State.LEASED,
        (State.WAITING, Event.LEASE): State.LEASED,
        (State.LEASED, Event.LEASE): State.LEASED,
        (State.LEASED, Event.DELIVER): State.DELIVERED,
        (State.LEASED, Event.FAIL): State.WAITING,
        (State.LEASED, Event.REFUSE): State.DEAD,
        (State.LEASED, Event.RELEASE): State.PENDING,
        (State.PENDING, Event.RETRY): State.PENDING,
        (State.WAITING, Event.RETRY): State.PENDING,
        (State.DEAD, Event.RETRY): State.PENDING,
    }
)

_EVENT_OF_STATE: Final[Mapping[State, Event]] = MappingProxyType(
    {State.DELIVERED: Event.DELIVER, State.WAITING: Event.FAIL, State.DEAD: Event.REFUSE}
)


def next_state(state: State, event: Event) -> State | None:
    """The state ``event`` moves a commit in ``state`` to, or None if it does not apply."""
    return TRANSITIONS.get((state, event))


def is_due(state: State, *, next_attempt_at: float, lease_until: float | None, now: float) -> bool:
    """Whether a worker may lease a commit now: pending or waiting and due, or its lease expired."""
    if state in (State.PENDING, State.WAITING):
        return next_attempt_at <= now
    if state is State.LEASED:
        return lease_until is not None and lease_until <= now
    return False


@dataclass(frozen=True, slots=True)
class Decision:
    """What to record after an attempt: the next state, when to try again (waiting only), why."""

    state: State
    next_attempt_at: float | None
    error: str

    @property
    def event(self) -> Event:
        """The lifecycle event that records this decision."""
        return _EVENT_OF_STATE[self.state]


def decide(
    outcome: Outcome,
    *,
    attempts: int,
    first_attempt_at: float,
    now: float,
    policy: RetryPolicy,
    rand: Callable[[], float],
) -> Decision:
    """Turn Tracker's answer to attempt number ``attempts`` into the commit's next state.

    A refusal is dead at once with Tracker's text. A retryable failure waits for the back-off
    (or Tracker's ``Retry-After`` when longer) unless the commit has been failing since
    ``first_attempt_at`` for the policy's whole give-up horizon; then it is dead too.
    """
    match outcome:
        case Delivered():
            return Decision(State.DELIVERED, None, "")
        case Refused(reason=reason):
            return Decision(State.DEAD, None, reason)
        case RetryLater(reason=reason, retry_after=retry_after):
            if should_give_up(first_attempt_at, now, policy):
                return Decision(
                    State.DEAD,
                    None,
                    f"gave up after {attempts} attempts in {_duration(now - first_attempt_at)}: "
                    f"{reason}",
                )
            delay = next_delay(attempts, rand, policy, retry_after=retry_after)
            return Decision(State.WAITING, now + delay, reason)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"
