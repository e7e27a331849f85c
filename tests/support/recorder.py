"""A real HTTP server on loopback that records every request and answers from a script.

It stands in for Tracker where a test needs to see the exact bytes that arrived, or to inject a
fault (a status, a ``Retry-After``, a reset connection, a hang). Use the emulator where a test
needs Tracker's behaviour (stories, states, comments).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    """How to answer one request. ``action`` 'reset' closes the socket; 'hang' never answers."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    action: str = "answer"


@dataclass
class Recorder:
    """The state of a running recorder: what arrived, and how to answer what comes next."""

    url: str
    received: list[Received] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)
    default: Reply = field(default_factory=lambda: Reply(200, b"<source_commit/>"))
    responder: Callable[[Received], Reply] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)
    connections: int = 0  # TCP connections accepted, to see whether clients keep them alive

    def next_reply(self, request: Received) -> Reply:
        """Record ``request`` and pick its reply: the script, else the responder or default."""
        with self.lock:
            self.received.append(request)
            if self.script:
                return self.script.pop(0)
        if self.responder is not None:
            return self.responder(request)
        return self.default

    def reset(self) -> None:
        """Forget what arrived and answer every request with the default 200 again."""
        with self.lock:
            self.received.clear()
            self.script.clear()
            self.default = Reply(200, b"<source_commit/>")
            self.responder = None

    def bodies(self) -> list[bytes]:
        """Every body received, in order."""
        with self.lock:
            return [r.body for r in self.received]


def _handler(state: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

        def setup(self) -> None:
            super().setup()
            with state.lock:
                state.connections += 1

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Received(self.command, self.path, dict(self.headers.items()), body)
            reply = state.next_reply(request)
            if reply.action == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.connection.close()
                self.close_connection = True
                return
            if reply.action == "hang":
                state.release.wait(30)
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_POST = do_GET = do_PUT = _handle  # noqa: N815

    return Handler


@contextmanager
def running_recorder() -> Iterator[Recorder]:
    """Start a recorder on 127.0.0.1 with a free port; stop it on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Recorder(url="")))
    host, port = server.server_address[:2]
    state = Recorder(url=f"http://{host}:{port}")
    server.RequestHandlerClass = _handler(state)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
