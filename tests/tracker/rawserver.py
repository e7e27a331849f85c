"""A loopback TCP server that answers HTTP requests with raw bytes, for faults a real HTTP
server would never commit: an answer cut off by a reset, a status line that is not HTTP.

It reads each request whole (headers and ``Content-Length`` body), keeps connections open for
the next request as HTTP/1.1 does, and counts the connections it accepted, so a test can also
see whether the client reused one.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# answer(connection, request bytes) -> keep the connection open for another request?
Answer = Callable[[socket.socket, bytes], bool]


@dataclass
class RawServer:
    """A running raw server: its URL, and what it saw."""

    url: str
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def reset(connection: socket.socket) -> None:
    """Abort the connection with a TCP RST (SO_LINGER 0), as a crashing peer does."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def read_request(connection: socket.socket) -> bytes | None:
    """One whole HTTP/1.1 request (head and Content-Length body), or None if the peer hung up."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


@contextmanager
def running_raw_server(answer: Answer, *, backlog: int = 16) -> Iterator[RawServer]:
    """Serve on 127.0.0.1 (free port), answering every request with ``answer``."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    server = RawServer(url=f"http://127.0.0.1:{listener.getsockname()[1]}")

    def serve_connection(connection: socket.socket) -> None:
        with connection:
            while True:
                try:
                    request = read_request(connection)
                except OSError:
                    return
                if request is None:
                    return
                with server.lock:
                    server.requests.append(request)
                try:
                    keep_open = answer(connection, request)
                except OSError:  # the client hung up first, as some tests make it do
                    return
                if not keep_open:
                    return

    def accept_forever() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with server.lock:
                server.connections += 1
            threading.Thread(target=serve_connection, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)
