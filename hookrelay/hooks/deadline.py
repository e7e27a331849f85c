"""A whole-request deadline for the hook's posts: connect to last byte, however Tracker trickles.

httpx bounds each wait (connect, each read), not a request: a Tracker that sends its status
line and headers a byte at a time restarts the read timeout with every byte, and held a push
90 s. ``DeadlinePoster`` wraps the hook's ``TrackerClient``: a watchdog thread shuts the
post's socket down when its deadline passes, which ends any read at once; the post is then a
``RetryLater`` ("did not answer within N s"), so the commit stays spooled. An answer already
under way when the deadline passes keeps what arrived (a 2xx whose body was cut is delivered,
as the client has it).

The socket is learnt from httpcore's ``trace`` extension (``connection.connect_tcp.complete``),
set on each request by an httpx request hook: the hook posts one commit at a time over one
kept-alive connection, so the newest socket is the one in use.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import suppress
from typing import Any

import httpx

from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import Delivered, Outcome, RetryLater
from hookrelay.tracker.client import TrackerClient

__all__ = ["DeadlinePoster", "deadline_timeout"]


def deadline_timeout(seconds: float, *, connect: float = 3.0) -> httpx.Timeout:
    """httpx's per-wait timeouts for posts that may take ``seconds`` in all. The watchdog can
    only cut a connected socket, so ``connect`` must not exceed the shortest deadline a post
    gets (the hook's foreground gives a post one second at least)."""
    return httpx.Timeout(seconds, connect=min(connect, seconds))


class DeadlinePoster:
    """Posts commits with ``client`` (whose httpx client is ``http``), each within its deadline.

    Use as a context manager: the watchdog thread lives while it is open.
    """

    def __init__(self, client: TrackerClient, http: httpx.Client) -> None:
        self._client = client
        self._socket: socket.socket | None = None
        self._wake = threading.Condition()
        self._cut_at: float | None = None
        self._cut = False
        self._closed = False
        self._thread = threading.Thread(target=self._watch, name="hookrelay-deadline", daemon=True)
        hooks = http.event_hooks
        http.event_hooks = {**hooks, "request": [*hooks.get("request", []), self._on_request]}

    def __enter__(self) -> DeadlinePoster:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(5)

    def post(self, commit: SourceCommit, *, within: float) -> Outcome:
        """Post ``commit``; a post not done ``within`` seconds is cut and is ``RetryLater``."""
        with self._wake:
            self._cut = False
            self._cut_at = time.monotonic() + within
            self._wake.notify()
        try:
            outcome = self._client.post(commit)
        finally:
            with self._wake:
                self._cut_at = None
                cut = self._cut
        if cut and not isinstance(outcome, Delivered) and outcome.status == 0:
            return RetryLater(0, f"Tracker did not answer within {within:g} s")
        return outcome

    def _on_request(self, request: httpx.Request) -> None:
        request.extensions = {**request.extensions, "trace": self._trace}

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            if stream is not None:
                self._socket = stream.get_extra_info("socket")

    def _watch(self) -> None:
        with self._wake:
            while not self._closed:
                if self._cut_at is None:
                    self._wake.wait()
                    continue
                left = self._cut_at - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                self._cut_at = None
                self._cut = True
                if self._socket is not None:
                    with suppress(OSError):
                        self._socket.shutdown(socket.SHUT_RDWR)
