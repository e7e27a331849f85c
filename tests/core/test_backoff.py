"""Retry back-off: quick first retry, growth with jitter, a cap, a give-up horizon."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookrelay.core.backoff import RetryPolicy, next_delay, should_give_up

POLICY = RetryPolicy()


def test_first_retry_within_ten_seconds() -> None:
    """The first retry comes within 10 s whatever the jitter draws."""
    assert 5.0 <= next_delay(1, lambda: 0.999, POLICY) <= 10.0
    assert next_delay(1, lambda: 0.0, POLICY) == 10.0


def test_grows_then_caps_at_an_hour() -> None:
    """Delays double until they reach the one-hour cap, and stay there."""
    delays = [next_delay(n, lambda: 0.0, POLICY) for n in range(1, 12)]
    assert delays[:4] == [10.0, 20.0, 40.0, 80.0]
    assert delays[-1] == 3600.0
    assert delays == sorted(delays)
    assert next_delay(10_000, lambda: 0.0, POLICY) == 3600.0


def test_retry_after_is_honoured_when_longer() -> None:
    """Tracker's Retry-After wins when it asks for longer than the back-off, never shorter."""
    assert next_delay(1, lambda: 0.0, POLICY, retry_after=120.0) == 120.0
    assert next_delay(5, lambda: 0.0, POLICY, retry_after=1.0) == 160.0


def test_gives_up_after_72_hours() -> None:
    """A commit is given up 72 hours after its first attempt, not before."""
    assert not should_give_up(0.0, 72 * 3600.0 - 1, POLICY)
    assert should_give_up(0.0, 72 * 3600.0, POLICY)


def test_configurable() -> None:
    """A custom policy changes the first delay, the cap and the horizon."""
    fast = RetryPolicy(first=0.1, cap=0.5, give_up_after=2.0)
    assert next_delay(1, lambda: 0.0, fast) == 0.1
    assert next_delay(20, lambda: 0.0, fast) == 0.5
    assert should_give_up(0.0, 2.0, fast)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"first": 0},
        {"factor": 0.5},
        {"cap": 1.0, "first": 2.0},
        {"jitter": 2.0},
        {"give_up_after": -1},
    ],
    ids=["zero first", "shrinking", "cap below first", "jitter above one", "negative horizon"],
)
def test_bad_policies_are_refused(kwargs: dict[str, float]) -> None:
    """A policy that would retry instantly, shrink or never make sense is refused."""
    with pytest.raises(ValueError, match="retry policy"):
        RetryPolicy(**kwargs)


@given(st.integers(min_value=1, max_value=10**6), st.floats(min_value=0.0, max_value=0.999999))
def test_always_within_bounds(attempt: int, draw: float) -> None:
    """Every delay lies between half the nominal delay and the cap."""
    delay = next_delay(attempt, lambda: draw, POLICY)
    assert POLICY.first * (1 - POLICY.jitter) <= delay <= POLICY.cap
