"""A Tracker stand-in on loopback that fails a share of posts in every way a network can.

Each ``POST …/source_commits`` is read whole and its ``commit_id`` taken from the v5 JSON body.
A commit listed in ``refused`` is answered 422 every time (refused for good: it must end dead).
Any other post fails with probability ``failure_rate``, drawn from a seeded generator, as one
of the ``FAULTS``; the rest are answered 200 and the commit counts as *taken*, as Tracker would
have it. A fault never takes the commit, except ``body-trickle``: its 200 status line is sent
at once and the body a byte at a time, so the commit is taken and the relay must record it on
the status line. ``taken`` counts every take, so a commit taken twice is a duplicate.
"""

from __future__ import annotations

import email.utils
import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.tracker.rawserver import reset, running_raw_server

# Fault name -> weight. The slow ones (each holds a post until its deadline) are rarer, so the
# whole run fits in CI; every kind still happens dozens of times.
FAULTS: dict[str, int] = {
    "503": 9,
    "429-seconds": 6,
    "429-date": 6,
    "reset": 6,
    "hang": 1,
    "header-trickle": 1,
    "body-trickle": 1,
}


@dataclass
class FaultyTracker:
    """The stand-in's state: what it took, refused and failed, and how to reach it."""

    port: int
    refused: frozenset[str]
    failure_rate: float
    hang_seconds: float
    seed: int = 0
    taken: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    _random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # a test's dice

    @property
    def url(self) -> str:
        """The Tracker v5 base URL to configure."""
        return f"http://127.0.0.1:{self.port}/services/v5"

    def taken_count(self) -> int:
        """How many distinct commits were taken so far."""
        with self.lock:
            return len(self.taken)

    def fault_for(self, commit_id: str) -> str | None:
        """What to do with a post of ``commit_id``: a fault's name, ``"refuse"``, or None (take)."""
        with self.lock:
            if commit_id in self.refused:
                self.refusals[commit_id] += 1
                return "refuse"
            if self._random.random() >= self.failure_rate:
                self.taken[commit_id] += 1
                return None
            names, weights = zip(*FAULTS.items(), strict=True)
            fault = self._random.choices(names, weights)[0]
            self.faults[fault] += 1
            if fault == "body-trickle":
                self.taken[commit_id] += 1
            return fault


def _answer(status: str, body: bytes, *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _trickle(connection: socket.socket, data: bytes, stop: threading.Event) -> None:
    for byte in data:
        if stop.is_set():
            return
        connection.sendall(bytes([byte]))  # raises once the relay has hung up
        time.sleep(0.05)


def _serve(tracker: FaultyTracker, connection: socket.socket, request: bytes) -> bool:
    """Answer one request; whether the connection stays open for the next."""
    body = request.partition(b"\r\n\r\n")[2]
    commit_id = str(json.loads(body)["source_commit"]["commit_id"])
    fault = tracker.fault_for(commit_id)
    if fault is None:
        connection.sendall(_answer("200 OK", b'{"kind":"source_commit"}'))
        return True
    if fault == "refuse":
        error = b'{"kind":"error","code":"unfound_resource","error":"Story not found"}'
        connection.sendall(_answer("422 Unprocessable Entity", error))
        return True
    if fault == "503":
        connection.sendall(_answer("503 Service Unavailable", b"down for maintenance"))
        return True
    if fault == "429-seconds":
        connection.sendall(_answer("429 Too Many Requests", b"", "Retry-After: 1"))
        return True
    if fault == "429-date":
        when = email.utils.formatdate(time.time() + 1, usegmt=True)
        connection.sendall(_answer("429 Too Many Requests", b"", f"Retry-After: {when}"))
        return True
    if fault == "reset":
        reset(connection)
        return False
    if fault == "hang":
        tracker.stopping.wait(tracker.hang_seconds)
        return False
    if fault == "header-trickle":
        _trickle(
            connection,
            _answer("503 Service Unavailable", b"", *["X-Pad: y"] * 50),
            tracker.stopping,
        )
        return False
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n"  # body-trickle: taken
    connection.sendall(head)
    _trickle(connection, b"x" * 200, tracker.stopping)
    return False


@contextmanager
def faulty_tracker(
    *, refused: frozenset[str], failure_rate: float, hang_seconds: float, seed: int = 0
) -> Iterator[FaultyTracker]:
    """Run the stand-in on a free loopback port until the block ends."""
    tracker = FaultyTracker(0, refused, failure_rate, hang_seconds, seed=seed)

    def answer(connection: socket.socket, request: bytes) -> bool:
        try:
            return not tracker.stopping.is_set() and _serve(tracker, connection, request)
        except (ValueError, KeyError):
            return False  # not a source_commit: hang up

    with running_raw_server(answer, backlog=128) as server:
        tracker.port = int(server.url.rsplit(":", 1)[1])
        try:
            yield tracker
        finally:
            tracker.stopping.set()
