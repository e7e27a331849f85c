"""When to try a delivery again: exponential back-off with jitter, as a pure function.

The n-th retry waits ``min(cap, first * factor**(n-1))`` scaled by a jitter factor in
``[1 - jitter, 1]`` drawn from the injected random source, so the first retry comes within
``first`` seconds and replicas that failed together do not retry together ("Exponential Backoff
And Jitter", AWS Architecture Blog). A ``Retry-After`` from Tracker is honoured when it asks for
longer. After ``give_up_after`` seconds since the first attempt, a commit goes to the dead list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RetryPolicy", "next_delay", "should_give_up"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How retries are spaced and when they stop, in seconds."""

    first: float = 10.0
    factor: float = 2.0
    cap: float = 3600.0
    jitter: float = 0.5
    give_up_after: float = 72 * 3600.0

    def __post_init__(self) -> None:
        if self.first <= 0 or self.factor < 1 or self.cap < self.first:
            raise ValueError("retry policy needs first > 0, factor >= 1 and cap >= first")
        if not 0 <= self.jitter <= 1 or self.give_up_after < 0:
            raise ValueError("retry policy needs 0 <= jitter <= 1 and give_up_after >= 0")


def next_delay(
    attempt: int,
    rand: Callable[[], float],
    policy: RetryPolicy = RetryPolicy(),
    *,
    retry_after: float | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first failure).

    ``rand`` returns a float in ``[0, 1)`` (``random.random`` in production, a constant in tests).
    """
    exponent = max(0, attempt - 1)
    # Compare in the exponent's domain so a large attempt number cannot overflow a float.
    base = policy.cap
    if exponent < 64:
        base = min(policy.cap, policy.first * policy.factor**exponent)
    delay = base * (1.0 - policy.jitter * rand())
    if retry_after is not None and retry_after > delay:
        return min(retry_after, policy.give_up_after)
    return delay


def should_give_up(
    first_attempt_at: float, now: float, policy: RetryPolicy = RetryPolicy()
) -> bool:
    """Whether a commit first tried at ``first_attempt_at`` has been retried long enough."""
    return now - first_attempt_at >= policy.give_up_after
