"""Slow and idle connections are closed; open connections are capped.

uvicorn closes a connection idle *between* requests (``timeout_keep_alive``) and answers 503
past ``limit_concurrency``, but it has no deadline for the request itself: a client that opens a
connection and sends nothing, trickles its headers a byte at a time, or stops half-way through
its body holds the connection (and, mid-body, its share of the body budget) for as long as it
likes. ``GuardedH11Protocol`` is uvicorn's h11 protocol with a watchdog per connection:

* **head**: the request line and headers must all arrive within ``head_timeout`` seconds of the
  connection opening, or of the first byte of the next request on a kept-alive connection;
* **body**: while the body is being read, ``body_stall_timeout`` seconds without a byte closes
  it. Time the server itself is not reading (uvicorn pauses the socket while the app has not
  taken what was already read, e.g. while a request waits for its share of the body budget)
  does not count against the client.

Other servers draw the same lines: nginx's ``client_header_timeout`` (whole head) and
``client_body_timeout`` (between two reads), both 60 s by default.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from hookrelay.settings import Settings

__all__ = ["GuardedH11Protocol", "guarded_protocol", "server_config"]

log = logging.getLogger("hookrelay.web")

_LONGEST_CHECK = 1.0


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections that are slow to send a request."""

    head_timeout: float = 10.0
    body_stall_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the head deadline: a new connection must send a request soon."""
        super().connection_made(transport)
        now = self.loop.time()
        self._head_started: float | None = now
        self._last_byte = now
        interval = min(self.head_timeout, self.body_stall_timeout) / 4
        self._interval = min(_LONGEST_CHECK, max(0.01, interval))
        self._watchdog: asyncio.TimerHandle | None = self.loop.call_later(
            self._interval, self._check
        )

    def data_received(self, data: bytes) -> None:
        """Note the byte's time; a request head that starts here starts its deadline."""
        now = self.loop.time()
        self._last_byte = now
        if self._head_started is None and self.conn.their_state is h11.IDLE:
            self._head_started = now
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._head_started = None

    def on_response_complete(self) -> None:
        """Between requests uvicorn's keep-alive timeout applies; the next head starts afresh."""
        self._head_started = None
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the watchdog with the connection."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        super().connection_lost(exc)

    def _check(self) -> None:
        self._watchdog = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        state = self.conn.their_state
        if self._head_started is not None and state is h11.IDLE:
            if now - self._head_started > self.head_timeout:
                self._close("no complete request head", self.head_timeout)
                return
        elif state is h11.SEND_BODY:
            if self.flow.read_paused:
                self._last_byte = now  # the server is not reading: not the client's stall
            elif now - self._last_byte > self.body_stall_timeout:
                self._close("request body stalled", self.body_stall_timeout)
                return
        self._watchdog = self.loop.call_later(self._interval, self._check)

    def _close(self, what: str, seconds: float) -> None:
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        log.info("closed %s: %s within %g s", client, what, seconds)
        self.transport.close()


def guarded_protocol(*, head_timeout: float, body_stall_timeout: float) -> type[H11Protocol]:
    """A ``GuardedH11Protocol`` with these timeouts, for ``uvicorn.Config(http=…)``."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"head_timeout": head_timeout, "body_stall_timeout": body_stall_timeout},
    )


def server_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for the receiver: the guarded protocol and the connection cap."""
    return uvicorn.Config(
        app,
        http=guarded_protocol(
            head_timeout=settings.head_timeout, body_stall_timeout=settings.body_stall_timeout
        ),
        # uvicorn answers 503 to a request arriving while this many connections (or requests)
        # are open, and closes that connection.
        limit_concurrency=settings.max_connections,
        log_config=None,
        lifespan="off",
        server_header=False,
        # Every refusal is logged with its reason and every push with what it queued; a line
        # per request besides was a twentieth of the receiver's CPU per push.
        **{"access_log": settings.access_log, **options},
    )
