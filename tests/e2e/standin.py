"""A fault-injecting stand-in for Tracker: refuses connections, answers a script, or forwards.

It holds its port from the start, bound but not listening, so the relay's first posts meet a
refused connection, exactly as when Tracker is down. ``open()`` starts answering on that port:
scripted replies first (503, 429 with ``Retry-After``), then every request is forwarded to the
real upstream (the emulator). ``hold()`` parks requests until ``release()``: commits in flight.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


@dataclass(frozen=True)
class Scripted:
    """One scripted answer."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True)
class Seen:
    """One request as it arrived, and the status it was answered with (0: never answered)."""

    at: float
    path: str
    body: bytes
    status: int


@dataclass
class StandIn:
    """The state of a stand-in; ``url`` is the Tracker base URL to configure."""

    port: int
    upstream: str
    version: str = "v5"
    script: list[Scripted] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    held: int = 0
    _reservation: socket.socket | None = None
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The Tracker API base URL pointing at this stand-in."""
        return f"http://127.0.0.1:{self.port}/services/{self.version}"

    def open(self) -> None:
        """Start answering (until now connections were refused)."""
        server = ThreadingHTTPServer(
            ("127.0.0.1", self.port), _handler(self), bind_and_activate=False
        )
        server.allow_reuse_address = True
        server.daemon_threads = True
        server.server_bind()
        server.server_activate()
        if self._reservation is not None:
            self._reservation.close()
            self._reservation = None
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def hold(self) -> None:
        """Park every request that arrives from now on until ``release()``."""
        self.gate.clear()

    def release(self) -> None:
        """Let parked and later requests through."""
        self.gate.set()

    def wait_for_held(self, count: int, timeout: float = 20.0) -> None:
        """Block until ``count`` requests are parked at the gate."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: self.held >= count, timeout):
                raise TimeoutError(f"only {self.held} of {count} requests arrived at the gate")

    def answered(self) -> list[Seen]:
        """Requests answered so far, in order."""
        with self.lock:
            return list(self.seen)

    def close(self) -> None:
        """Stop answering and free the port."""
        self.gate.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._reservation is not None:
            self._reservation.close()


def _reply(
    state: StandIn, method: str, path: str, headers: dict[str, str], body: bytes
) -> Scripted:
    with state.lock:
        scripted = state.script.pop(0) if state.script else None
    if scripted is not None:
        return scripted
    forwarded = {
        k: v
        for k, v in headers.items()
        if k.lower() in {"x-trackertoken", "content-type", "accept"}
    }
    answer = httpx.request(
        method, f"{state.upstream}{path}", headers=forwarded, content=body, timeout=10
    )
    content_type = answer.headers.get("content-type", "application/octet-stream")
    return Scripted(answer.status_code, (("Content-Type", content_type),), answer.content)


def _handler(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if not state.gate.is_set():
                with state.arrived:
                    state.held += 1
                    state.arrived.notify_all()
                state.gate.wait(30)
            reply = _reply(state, "POST", self.path, dict(self.headers.items()), body)
            with state.lock:
                state.seen.append(Seen(time.monotonic(), self.path, body, reply.status))
            try:
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:
                # The relay died while this request was parked: nobody is left to answer.
                self.close_connection = True

    return Handler


@contextmanager
def standin(upstream: str, *, version: str = "v5") -> Iterator[StandIn]:
    """A stand-in whose port refuses connections until ``open()``, forwarding to ``upstream``."""
    reservation = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reservation.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    state = StandIn(port=reservation.getsockname()[1], upstream=upstream, version=version)
    state._reservation = reservation
    state.gate.set()
    try:
        yield state
    finally:
        state.close()
