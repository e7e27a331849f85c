"""A pressure run against a real ``hookrelay serve``: big signed pushes, slowloris, probes.

``run_pressure`` starts ``serve`` (SQLite, a Tracker that takes connections and never answers,
so the workers stay out of the way), then at once: ``pushes`` big signed pushes, ``slowloris``
connections trickling request heads (reopened as the server closes them), ``/healthz`` probed
every 100 ms and a one-commit push every 500 ms. It returns what the issue's goal is stated in:
``/healthz`` p99, the slowest one-commit push, the server's peak RSS and how many big pushes
were queued whole. Used by ``tests/reliability/test_pressure.py`` (scaled for CI) and
``bench/ingest_pressure.py`` (full size: twenty 25 MB pushes).
"""

from __future__ import annotations

import itertools
import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from hookrelay.core.signatures import sign
from tests.e2e.process import hookrelay_serve

SECRET = "pressure-secret"
TOKEN = "pressure-token"
MB = 1024 * 1024


@dataclass(frozen=True)
class PressureFigures:
    """What a pressure run measured."""

    pushes: int
    commits_per_push: int
    body_bytes: int
    queued_pushes: int
    health_p99: float
    health_max: float
    health_probes: int
    small_push_max: float
    small_pushes: int
    peak_rss_bytes: int
    seconds: float

    def report(self) -> str:
        """The figures, one line each, as the test and the bench print them."""
        return "\n".join(
            [
                (
                    f"pressure: {self.pushes} pushes x {self.body_bytes / MB:.1f} MB "
                    f"({self.commits_per_push} commits each), {self.seconds:.1f} s"
                ),
                f"  all queued:        {self.queued_pushes}/{self.pushes}",
                (
                    f"  /healthz p99:      {self.health_p99:.3f} s "
                    f"(max {self.health_max:.3f} s, {self.health_probes} probes)"
                ),
                f"  1-commit push max: {self.small_push_max:.3f} s ({self.small_pushes} pushes)",
                f"  peak RSS:          {self.peak_rss_bytes / MB:.0f} MB",
            ]
        )


def big_push(index: int, commits: int, commit_bytes: int) -> bytes:
    """A GitHub push of ``commits`` story commits, each about ``commit_bytes`` of JSON."""
    template = {
        "id": "@" * 40,
        "tree_id": "f" * 40,
        "distinct": True,
        "message": "[#1] pressure commit ",
        "timestamp": "2026-01-02T03:04:05Z",
        "url": "https://github.com/octo/pressure/commit/" + "@" * 40,
        "author": {"name": "Ada Lovelace", "email": "ada@example.org", "username": "ada"},
        "committer": {"name": "Ada Lovelace", "email": "ada@example.org", "username": "ada"},
        "added": [],
        "removed": [],
        "modified": ["README.md"],
    }
    padding = max(0, commit_bytes - len(json.dumps(template)) - 2)
    template["message"] = str(template["message"]) + "x" * padding
    one = json.dumps(template).encode()
    head, _, rest = one.partition(b"@" * 40)
    middle, _, tail = rest.partition(b"@" * 40)
    parts = []
    for number in range(commits):
        sha = f"{index:08x}{number:032x}".encode()
        parts.append(head + sha + middle + sha + tail)
    document = {
        "ref": "refs/heads/main",
        "after": "b" * 40,
        "repository": {"full_name": "octo/pressure", "name": "pressure"},
        "commits": [],
    }
    start, _, end = json.dumps(document).encode().partition(b"[]")
    return start + b"[" + b",".join(parts) + b"]" + end


def signed(body: bytes) -> dict[str, str]:
    """GitHub's headers for ``body``, signed with the run's secret."""
    return {
        "X-GitHub-Event": "push",
        "Content-Type": "application/json",
        "X-Hub-Signature-256": "sha256=" + sign(body, SECRET),
    }


@contextmanager
def silent_tracker() -> Iterator[str]:
    """A Tracker URL whose port takes connections and never answers them."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/services/v5"
    finally:
        listener.close()


class Slowloris:
    """``count`` connections each sending one byte of a request head every 0.5 s, reopened as
    the server closes them, until ``stop``."""

    def __init__(self, url: str, count: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        self._address = (host, int(port))
        self._count = count
        self._stop = threading.Event()
        self.reopened = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Slowloris:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(self._address, timeout=2)
        except OSError:
            return None
        sock.setblocking(False)  # noqa: FBT003 - the socket API
        return sock

    @staticmethod
    def _trickle(sock: socket.socket, byte: int) -> bool:
        try:
            sock.send(bytes([byte]))
        except OSError:
            return False
        return True

    def _run(self) -> None:
        head = itertools.cycle(b"POST /github HTTP/1.1\r\nHost: relay\r\nX-Slow: ")
        sockets = [self._open() for _ in range(self._count)]
        while not self._stop.wait(0.5):
            for index, sock in enumerate(sockets):
                if sock is not None and self._trickle(sock, next(head)):
                    continue
                if sock is not None:
                    sock.close()
                sockets[index] = self._open()
                self.reopened += 1
        for sock in sockets:
            if sock is not None:
                sock.close()


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _p99(samples: list[float]) -> float:
    if len(samples) < 2:
        return max(samples, default=0.0)
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def run_pressure(
    folder: Path,
    *,
    pushes: int,
    commits_per_push: int,
    commit_bytes: int,
    slowloris: int,
    extra_env: dict[str, str] | None = None,
) -> PressureFigures:
    """Run the scenario against a fresh ``serve`` whose queue lives in ``folder``."""
    extra_env = extra_env or {}
    with silent_tracker() as tracker_url:
        env = {
            "HOOKRELAY_DATABASE_URL": f"sqlite:///{folder / 'queue.db'}",
            "HOOKRELAY_TRACKER_URL": tracker_url,
            "HOOKRELAY_TRACKER_TOKEN": TOKEN,
            "HOOKRELAY_GITHUB_SECRET": SECRET,
            **extra_env,
        }
        with hookrelay_serve(env) as serve:
            return _pressure(
                serve.url,
                serve.process.pid,
                pushes=pushes,
                commits_per_push=commits_per_push,
                commit_bytes=commit_bytes,
                slowloris=slowloris,
            )


def _pressure(
    url: str, pid: int, *, pushes: int, commits_per_push: int, commit_bytes: int, slowloris: int
) -> PressureFigures:
    done = threading.Event()
    queued: list[int] = []
    health: list[float] = []
    small: list[float] = []

    # Built before the clock starts, so the client's own work does not slow its probes.
    bodies = [big_push(index + 1, commits_per_push, commit_bytes) for index in range(pushes)]

    def push(index: int) -> None:
        body = bodies[index]
        with httpx.Client(timeout=600) as client:
            answer = client.post(f"{url}/github", content=body, headers=signed(body))
        if answer.status_code == 202 and answer.json()["accepted"] == commits_per_push:
            queued.append(index)

    def probe() -> None:
        with httpx.Client(timeout=60) as client:
            while not done.is_set():
                start = time.perf_counter()
                client.get(f"{url}/healthz").raise_for_status()
                health.append(time.perf_counter() - start)
                done.wait(0.1)

    def small_pushes() -> None:
        with httpx.Client(timeout=60) as client:
            for number in itertools.count():
                if done.wait(0.5):
                    return
                body = big_push(0xFFFF0000 + number, 1, 300)
                start = time.perf_counter()
                answer = client.post(f"{url}/github", content=body, headers=signed(body))
                small.append(time.perf_counter() - start)
                assert answer.status_code == 202, answer.text

    start = time.perf_counter()
    with Slowloris(url, slowloris):
        helpers = [threading.Thread(target=probe), threading.Thread(target=small_pushes)]
        for helper in helpers:
            helper.start()
        senders = [threading.Thread(target=push, args=(i,)) for i in range(pushes)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        done.set()
        for helper in helpers:
            helper.join()
    return PressureFigures(
        pushes=pushes,
        commits_per_push=commits_per_push,
        body_bytes=len(bodies[0]),
        queued_pushes=len(queued),
        health_p99=_p99(health),
        health_max=max(health, default=0.0),
        health_probes=len(health),
        small_push_max=max(small, default=0.0),
        small_pushes=len(small),
        peak_rss_bytes=_peak_rss(pid),
        seconds=time.perf_counter() - start,
    )
