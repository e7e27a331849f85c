"""The life of a queued commit: the transition table, when a commit is due, and ``decide``."""

from __future__ import annotations

import pytest

from hookrelay.core.backoff import RetryPolicy
from hookrelay.core.lifecycle import (
    TRANSITIONS,
    Decision,
    Event,
    State,
    decide,
    is_due,
    next_state,
)
from hookrelay.core.tracker_api import Delivered, Outcome, Refused, RetryLater

POLICY = RetryPolicy(first=10.0, factor=2.0, cap=3600.0, jitter=0.5, give_up_after=3 * 3600.0)


def no_jitter() -> float:
    return 0.0


def test_delivered_is_final() -> None:
    """No event moves a delivered commit anywhere: retrying it would post it twice."""
    assert all(next_state(State.DELIVERED, event) is None for event in Event)


def test_only_a_leased_commit_records_an_outcome() -> None:
    """Deliver, fail, refuse and release apply to a leased commit and to nothing else."""
    for event in (Event.DELIVER, Event.FAIL, Event.REFUSE, Event.RELEASE):
        sources = {state for (state, on), _ in TRANSITIONS.items() if on is event}
        assert sources == {State.LEASED}


def test_every_state_is_reachable_from_pending() -> None:
    """The table connects pending to every state, so no state is dead code."""
    seen, frontier = {State.PENDING}, [State.PENDING]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(State)


@pytest.mark.parametrize(
    ("state", "next_attempt_at", "lease_until", "due"),
    [
        (State.PENDING, 100.0, None, True),
        (State.PENDING, 100.5, None, False),
        (State.WAITING, 99.0, None, True),
        (State.WAITING, 160.0, None, False),
        (State.LEASED, 0.0, 100.0, True),
        (State.LEASED, 0.0, 160.0, False),
        (State.DELIVERED, 0.0, None, False),
        (State.DEAD, 0.0, None, False),
    ],
    ids=[
        "pending-due",
        "pending-not-yet",
        "waiting-due",
        "waiting-not-yet",
        "leased-expired",
        "leased-held",
        "delivered",
        "dead",
    ],
)
def test_is_due(state: State, next_attempt_at: float, lease_until: float | None, due: bool) -> None:
    """A commit is due when pending or waiting past its time, or leased past its lease, at now=100."""
    assert is_due(state, next_attempt_at=next_attempt_at, lease_until=lease_until, now=100.0) is due


@pytest.mark.parametrize(
    ("outcome", "attempts", "expected"),
    [
        (Delivered(200), 1, Decision(State.DELIVERED, None, "")),
        (Delivered(201), 7, Decision(State.DELIVERED, None, "")),
        (
            Refused(401, "HTTP 401: Invalid authentication credentials"),
            1,
            Decision(State.DEAD, None, "HTTP 401: Invalid authentication credentials"),
        ),
        (
            Refused(422, "HTTP 422: Story 99 not found"),
            3,
            Decision(State.DEAD, None, "HTTP 422: Story 99 not found"),
        ),
        (RetryLater(503, "HTTP 503"), 1, Decision(State.WAITING, 1010.0, "HTTP 503")),
        (RetryLater(503, "HTTP 503"), 3, Decision(State.WAITING, 1040.0, "HTTP 503")),
        (
            RetryLater(429, "HTTP 429", retry_after=120.0),
            1,
            Decision(State.WAITING, 1120.0, "HTTP 429"),
        ),
        (
            RetryLater(429, "HTTP 429", retry_after=1.0),
            4,
            Decision(State.WAITING, 1080.0, "HTTP 429"),
        ),
        (
            RetryLater(0, "could not reach Tracker: ConnectError"),
            1,
            Decision(State.WAITING, 1010.0, "could not reach Tracker: ConnectError"),
        ),
    ],
    ids=[
        "200",
        "201-late",
        "401-dead",
        "422-dead",
        "503-first",
        "503-third",
        "429-retry-after-longer",
        "429-retry-after-shorter",
        "refused-connection",
    ],
)
def test_decide(outcome: Outcome, attempts: int, expected: Decision) -> None:
    """Tracker's answer becomes delivered, dead with its text, or waiting for the back-off or Retry-After."""
    decision = decide(
        outcome,
        attempts=attempts,
        first_attempt_at=1000.0,
        now=1000.0,
        policy=POLICY,
        rand=no_jitter,
    )
    assert decision == expected


def test_decide_gives_up_after_the_horizon() -> None:
    """A retryable failure past the give-up horizon is dead, saying how long it tried and why."""
    decision = decide(
        RetryLater(503, "HTTP 503: down for maintenance"),
        attempts=12,
        first_attempt_at=0.0,
        now=3 * 3600.0,
        policy=POLICY,
        rand=no_jitter,
    )
    assert decision.state is State.DEAD
    assert decision.next_attempt_at is None
    assert decision.error == "gave up after 12 attempts in 3.0 h: HTTP 503: down for maintenance"


def test_decide_keeps_trying_just_inside_the_horizon() -> None:
    """One second before the horizon a retryable failure still waits."""
    decision = decide(
        RetryLater(503, "HTTP 503"),
        attempts=12,
        first_attempt_at=0.0,
        now=3 * 3600.0 - 1,
        policy=POLICY,
        rand=no_jitter,
    )
    assert decision.state is State.WAITING


def test_a_refusal_is_dead_even_inside_the_horizon() -> None:
    """A refusal does not wait for the horizon: retrying the same request cannot help."""
    decision = decide(
        Refused(403, "HTTP 403"),
        attempts=1,
        first_attempt_at=0.0,
        now=0.0,
        policy=POLICY,
        rand=no_jitter,
    )
    assert decision.state is State.DEAD


@pytest.mark.parametrize(
    ("state", "event"),
    [(State.DELIVERED, Event.DELIVER), (State.WAITING, Event.FAIL), (State.DEAD, Event.REFUSE)],
    ids=["delivered", "waiting", "dead"],
)
def test_decision_names_its_event(state: State, event: Event) -> None:
    """A decision names the table's event that records it, and that event leads to its state."""
    decision = Decision(state, None, "")
    assert decision.event is event
    assert next_state(State.LEASED, decision.event) is state
