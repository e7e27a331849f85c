"""Chaos: thousands of commits through real ``hookrelay serve`` processes, a Tracker failing 30%
of posts every way it can, and ``serve`` killed with SIGKILL twice and restarted.

Signed GitHub pushes (some redelivered, some pushed again on another branch) go to ``serve``
while it delivers to ``faulty_tracker``: 503, 429 with ``Retry-After`` in seconds and as a
date, connection resets, hangs past the post's deadline, headers trickled, bodies trickled;
a few commits are refused for good (422). When a third and two thirds of the commits have been
taken, one ``serve`` is killed with SIGKILL and started again. On SQLite one ``serve`` does it
all; on PostgreSQL two ``serve`` replicas and one ``hookrelay worker`` share the queue.

At the end every accepted commit was taken by Tracker or is dead, nothing was lost, the dead
ones are exactly those refused for good, and no commit was taken twice more often than the
posts that can be in flight at a kill (concurrency per kill). The retry schedule is compressed
through settings (first retry 0.1 s, lease 1.5 s so a post's deadline is 0.5 s).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from hookrelay.queue import QueueStore, State, open_store
from tests.e2e.process import ServeProcess, hookrelay_serve
from tests.e2e.test_delivery import signed_headers
from tests.reliability.faulty_tracker import FaultyTracker, faulty_tracker
from tests.support.databases import KINDS, fresh_database
from tests.web.conftest import SECRET, push_body, pushed_commit

COMMITS = 5000
PER_PUSH = 25
REFUSED_EVERY = 50  # every 50th commit is refused for good: 100 dead
CONCURRENCY = 4
KILLS = 2
LEASE_SECONDS = 1.5  # a post's deadline is lease / 3 = 0.5 s
DRAIN_BUDGET = 200.0  # seconds; the run takes well under a minute on 2 busy cores

SETTINGS = {
    "HOOKRELAY_CONCURRENCY": str(CONCURRENCY),
    "HOOKRELAY_LEASE_SECONDS": str(LEASE_SECONDS),
    "HOOKRELAY_POLL_INTERVAL": "0.05",
    "HOOKRELAY_RETRY_FIRST_DELAY": "0.1",
    "HOOKRELAY_RETRY_MAX_DELAY": "0.5",
    "HOOKRELAY_GITHUB_SECRET": SECRET,
    "HOOKRELAY_TRACKER_TOKEN": "chaos-token-0123456789abcdef",
}


@dataclass(frozen=True)
class Push:
    """One webhook delivery: its body and the commits it names."""

    body: bytes
    commit_ids: tuple[str, ...]


def planned_pushes() -> tuple[list[Push], frozenset[str]]:
    """Every push the forge sends, in order, and the commits Tracker will refuse for good.

    Each fifth push is sent twice (a redelivery); each seventh is pushed again on a release
    branch with ``distinct: false``, as GitHub does for a branch that takes commits it already
    saw. Both must be queued once.
    """
    pushes: list[Push] = []
    for start in range(0, COMMITS, PER_PUSH):
        numbers = range(start, min(start + PER_PUSH, COMMITS))
        ids = tuple(f"{n:040x}" for n in numbers)
        messages = [f"[#100] chaos commit {n}" for n in numbers]
        main = Push(
            push_body([pushed_commit(i, m) for i, m in zip(ids, messages, strict=True)]), ids
        )
        pushes.append(main)
        index = start // PER_PUSH
        if index % 5 == 0:
            pushes.append(main)
        if index % 7 == 0:
            again = [
                pushed_commit(i, m, distinct=False) for i, m in zip(ids, messages, strict=True)
            ]
            pushes.append(Push(push_body(again, branch="release/1.x"), ids))
    refused = frozenset(f"{n:040x}" for n in range(0, COMMITS, REFUSED_EVERY))
    return pushes, refused


@dataclass
class Fleet:
    """The relay processes: ``serve`` replicas (restartable) and an optional ``worker``."""

    env: dict[str, str]
    replicas: int
    serving: list[tuple[AbstractContextManager[ServeProcess], ServeProcess] | None] = field(
        default_factory=list
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """Start every replica."""
        for _ in range(self.replicas):
            self.serving.append(self._started())

    def _started(self) -> tuple[AbstractContextManager[ServeProcess], ServeProcess]:
        running = hookrelay_serve(self.env)
        return running, running.__enter__()

    def url(self, replica: int) -> str | None:
        """Where replica ``replica`` listens now (None while it restarts)."""
        with self.lock:
            entry = self.serving[replica % self.replicas]
        return None if entry is None else entry[1].url

    def kill_and_restart(self, replica: int) -> None:
        """SIGKILL one replica, posts in flight and all, then start it again."""
        with self.lock:
            entry = self.serving[replica]
            self.serving[replica] = None
        assert entry is not None
        running, serve = entry
        serve.process.send_signal(signal.SIGKILL)
        running.__exit__(None, None, None)
        restarted = self._started()
        with self.lock:
            self.serving[replica] = restarted

    def stop(self) -> None:
        """Stop every replica (SIGTERM, then whatever the context does)."""
        for entry in self.serving:
            if entry is not None:
                entry[1].process.send_signal(signal.SIGTERM)
        for entry in self.serving:
            if entry is not None:
                entry[0].__exit__(None, None, None)


@contextmanager
def hookrelay_worker(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``hookrelay worker`` as a child process, stopped with SIGTERM afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hookrelay", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def send_all(fleet: Fleet, pushes: list[Push], accepted: set[str], errors: list[str]) -> None:
    """Send every push, round robin over the replicas; a push cut off by a kill is sent again
    (a forge redelivers), so each is answered 202 once in the end."""
    with httpx.Client(timeout=10) as client:
        for number, push in enumerate(pushes):
            give_up = time.monotonic() + 60
            while True:
                url = fleet.url(number)
                try:
                    if url is None:
                        raise httpx.ConnectError("restarting")
                    answer = client.post(
                        f"{url}/github",
                        content=push.body,
                        headers=signed_headers(push.body, "X-GitHub-Event"),
                    )
                except httpx.TransportError:
                    if time.monotonic() > give_up:
                        errors.append(f"push {number} could not be sent for 60 s")
                        return
                    time.sleep(0.05)
                    continue
                if answer.status_code != 202:
                    errors.append(f"push {number}: {answer.status_code} {answer.text}")
                    return
                accepted.update(push.commit_ids)
                break


def settled(store: QueueStore, accepted: int) -> bool:
    """Whether every accepted commit is delivered or dead, and nothing is left to do."""
    counts = store.counts()
    busy = counts[State.PENDING] + counts[State.LEASED] + counts[State.WAITING]
    return busy == 0 and counts[State.DELIVERED] + counts[State.DEAD] == accepted


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", KINDS)
def test_chaos(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Thousands of commits through serve, a Tracker failing 30% of posts, two SIGKILLs: nothing
    is lost, the dead are exactly the refused, duplicates stay within the posts in flight."""
    pushes, refused = planned_pushes()
    with (
        fresh_database(kind, tmp_path) as database_url,
        faulty_tracker(
            refused=refused, failure_rate=0.3, hang_seconds=LEASE_SECONDS / 3 + 0.5
        ) as tracker,
    ):
        env = {
            **SETTINGS,
            "HOOKRELAY_DATABASE_URL": database_url,
            "HOOKRELAY_TRACKER_URL": tracker.url,
        }
        fleet = Fleet({**_os_environ(), **env}, replicas=1 if kind == "sqlite" else 2)
        store = open_store(database_url)
        accepted: set[str] = set()
        errors: list[str] = []
        started = time.monotonic()
        fleet.start()
        try:
            with _worker_if(kind == "postgres", {**_os_environ(), **env}):
                sender = threading.Thread(target=send_all, args=(fleet, pushes, accepted, errors))
                sender.start()
                kills = 0
                while sender.is_alive() or not settled(store, len(accepted)):
                    if kills < KILLS and tracker.taken_count() >= COMMITS * (kills + 1) // 3:
                        fleet.kill_and_restart(kills % fleet.replicas)
                        kills += 1
                    if time.monotonic() - started > DRAIN_BUDGET:
                        break
                    time.sleep(0.05)
                drained = time.monotonic() - started
                sender.join(60)
        finally:
            fleet.stop()
        dead = {d.commit_id for d in store.list(state=State.DEAD, limit=COMMITS)}
        delivered = store.counts()[State.DELIVERED]
        store.close()
    report = _figures(kind, tracker, accepted, delivered, dead, kills, drained)
    with capsys.disabled():
        print(f"\n{report}")
    assert errors == []
    assert kills == KILLS, report
    assert len(accepted) == COMMITS, report
    assert _lost(tracker, accepted, dead) == set(), report
    assert dead == refused, report
    assert _duplicates(tracker) <= CONCURRENCY * KILLS, report
    assert drained <= DRAIN_BUDGET, report


def _os_environ() -> dict[str, str]:
    import os  # noqa: PLC0415 - only the processes' environment needs it

    return dict(os.environ)


@contextmanager
def _worker_if(wanted: bool, env: dict[str, str]) -> Iterator[None]:
    if not wanted:
        yield
        return
    with hookrelay_worker(env):
        yield


def _lost(tracker: FaultyTracker, accepted: set[str], dead: set[str]) -> set[str]:
    with tracker.lock:
        return {c for c in accepted if c not in tracker.taken and c not in dead}


def _duplicates(tracker: FaultyTracker) -> int:
    with tracker.lock:
        return sum(times - 1 for times in tracker.taken.values())


def _figures(
    kind: str,
    tracker: FaultyTracker,
    accepted: set[str],
    delivered: int,
    dead: set[str],
    kills: int,
    drained: float,
) -> str:
    with tracker.lock:
        faults = dict(sorted(tracker.faults.items()))
        posts = sum(tracker.taken.values()) + sum(faults.values()) + sum(tracker.refusals.values())
    return (
        f"chaos [{kind}]: accepted {len(accepted)}, delivered {delivered}, "
        f"lost {len(_lost(tracker, accepted, dead))}, duplicates {_duplicates(tracker)} "
        f"(at most {CONCURRENCY} x {kills} kills), dead {len(dead)}, "
        f"time to drain {drained:.1f} s; {posts} posts, faults {faults}"
    )
