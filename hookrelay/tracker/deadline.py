"""One deadline for a whole HTTP exchange, however slowly the peer sends.

httpx bounds each wait (a connect, one read, one write), and a read timeout starts again on
every byte that arrives: a server that trickles its status line or headers a byte at a time
holds a request for ever. Here every network operation is given at most the time left until
the exchange's deadline, so the whole exchange (waiting for a pooled connection, connecting,
TLS, sending, and every read of the answer) ends by the deadline, with httpx's own
``TimeoutException``.

The deadline is set with ``within(seconds)`` around a request made with a client whose
transport is a ``DeadlineTransport`` (``make_http_client`` in ``client.py`` builds one). It lives
in a context variable: the sync client does its I/O in the calling thread, so each thread's
requests have their own deadline and no watchdog thread is needed.
"""

from __future__ import annotations

import ssl
import time
import typing
from contextlib import AbstractContextManager
from contextvars import ContextVar

import httpcore
import httpx

__all__ = ["DeadlineTransport", "within"]

_DEADLINE: ContextVar[float | None] = ContextVar("hookrelay_deadline", default=None)


def within(seconds: float) -> AbstractContextManager[float]:
    """Every request made inside the block ends ``seconds`` from now, or by the deadline of an
    enclosing block if that is sooner (a ``time.monotonic()`` deadline, given to the block)."""
    return _Within(seconds)


class _Within:
    """``within``'s block (a class, not a generator: it runs twice a post)."""

    __slots__ = ("_seconds", "_token")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def __enter__(self) -> float:
        deadline = time.monotonic() + self._seconds
        outer = _DEADLINE.get()
        if outer is not None and outer < deadline:
            deadline = outer
        self._token = _DEADLINE.set(deadline)
        return deadline

    def __exit__(self, *_exc: object) -> None:
        _DEADLINE.reset(self._token)


def _left(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` cut to the time left before the deadline; ``expired`` once it has passed."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the exchange's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the current deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        upgraded = self._stream.start_tls(
            ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(upgraded)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """The standard sync sockets, connecting and streaming within the current deadline."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport (TLS verified, pooled) whose requests end by the current deadline."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        super().__init__(verify=True, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=True),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, waiting for a pooled connection no longer than the deadline."""
        timeouts = dict(request.extensions.get("timeout", {}))
        try:
            timeouts["pool"] = _left(timeouts.get("pool"), httpx.PoolTimeout)
        except httpx.PoolTimeout as exc:
            raise httpx.PoolTimeout(str(exc), request=request) from None
        request.extensions = {**request.extensions, "timeout": timeouts}
        return super().handle_request(request)

    def open(
        self,
        method: bytes,
        url: httpcore.URL,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        timeouts: dict[str, float | None],
    ) -> httpcore.Response:
        """Send a request to the pool as httpcore takes it, within the deadline like
        ``handle_request``, and return the response with its body still to read (the caller
        closes it). httpx's ``Request`` and ``Response`` around the same exchange cost as much
        CPU as the exchange itself; the worker posts this way. Raises httpcore's exceptions
        (whose names and texts httpx's repeat)."""
        timeouts = {**timeouts, "pool": _left(timeouts.get("pool"), httpcore.PoolTimeout)}
        request = httpcore.Request(
            method, url, headers=headers, content=body, extensions={"timeout": timeouts}
        )
        return self._pool.handle_request(request)
