"""Polling with a deadline: how a test waits for something another thread or process does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn

__all__ = ["wait_until", "wait_until_started"]


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


def wait_until_started(
    server: uvicorn.Server, thread: threading.Thread, timeout: float, what: str
) -> None:
    """Wait until ``server``, run by ``thread``, is serving; fail after ``timeout`` seconds, and
    at once (``RuntimeError``) if the thread stops before it started."""
    wait_until(lambda: server.started or not thread.is_alive(), timeout, what, every=0.01)
    if not server.started:
        raise RuntimeError(f"{what}: the server thread stopped before it started")
