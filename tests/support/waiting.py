"""Polling with a deadline: how a test waits for something another thread or process does."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["wait_until"]


def wait_until(
    condition: Callable[[], object],
    timeout: float,
    what: str | Callable[[], str],
    *,
    every: float = 0.02,
) -> None:
    """Call ``condition`` every ``every`` seconds until it is true; after ``timeout`` seconds
    fail the test naming ``what`` (a text, or a function that says what was seen by then)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            said = what if isinstance(what, str) else what()
            raise AssertionError(f"not within {timeout} s: {said}")
        time.sleep(every)
