"""A Tracker stand-in that trickles its answer a byte at a time for a minute: its status line
(nothing is known of the outcome), its headers after a 200 status line, or its body.

Each byte restarts a per-read timeout, so only a whole-request deadline ends such a post. The
trickle stops when the test ends (``stop``), so no thread outlives it for long.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.tracker.rawserver import RawServer, running_raw_server

#: Seconds between two bytes, and how long a trickle lasts at most.
BYTE_EVERY = 0.2
TRICKLE_FOR = 60.0

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"


@contextmanager
def trickling_tracker(part: str) -> Iterator[RawServer]:
    """Serve on loopback, trickling the ``part`` ('status', 'headers' or 'body') of a 200."""
    stop = threading.Event()

    def answer(connection: socket.socket, _: bytes) -> bool:
        if part == "status":
            connection.sendall(b"HTTP/1.1 ")
        elif part == "headers":
            connection.sendall(HEAD + b"X-Slow: ")
        else:
            connection.sendall(HEAD + b"Content-Length: 100000\r\n\r\n<source_commit>")
        give_up_at = time.monotonic() + TRICKLE_FOR
        while not stop.wait(BYTE_EVERY) and time.monotonic() < give_up_at:
            connection.sendall(b" " if part == "status" else b"a")
        return False

    with running_raw_server(answer) as server:
        try:
            yield server
        finally:
            stop.set()
