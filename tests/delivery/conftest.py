"""A queue, an HTTP client, a settable clock and metrics for worker tests; commits to queue."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hookrelay.core.source_commit import SourceCommit, render
from hookrelay.core.tracker_api import TrackerTarget, token_fingerprint
from hookrelay.metrics import RelayMetrics
from hookrelay.queue import NewDelivery, QueueStore, open_store
from hookrelay.tracker.client import make_http_client

# The queue suite's fresh database of every kind, so the replica tests run over each store.
from tests.queue.conftest import queue_database  # noqa: F401 - a fixture, used by name
from tests.support.recorder import Recorder, running_recorder

TOKEN = "0123456789abcdef0123456789abcdef"


@dataclass
class Clock:
    """A clock the test moves by hand: seconds since the epoch."""

    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward without waiting."""
        self.now += seconds


def queue_commit(
    store: QueueStore,
    base_url: str,
    number: int = 1,
    *,
    token: str = TOKEN,
    now: float = 1_000_000.0,
) -> NewDelivery:
    """Queue the n-th test commit for the Tracker at ``base_url``; return what was queued."""
    target = TrackerTarget.parse(base_url)
    commit = SourceCommit(
        commit_id=f"{number:040x}", message=f"[Finishes #{number}] commit {number}", author="Ada"
    )
    item = NewDelivery(
        dedupe_key=f"{target.base_url} {token_fingerprint(token)} {commit.commit_id}",
        target_url=base_url,
        token=token,
        token_fingerprint=token_fingerprint(token),
        commit_id=commit.commit_id,
        body=render(commit, target.version),
        summary=commit.message,
    )
    assert store.enqueue([item], now=now).queued == 1
    return item


def sample(metrics: RelayMetrics, name: str) -> float:
    """A counter's value (0 when never incremented)."""
    return metrics.registry.get_sample_value(name) or 0.0


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[QueueStore]:
    """A fresh SQLite queue (the worker is the same over every store)."""
    queue = open_store(f"sqlite:///{tmp_path / 'queue.db'}")
    yield queue
    queue.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """The Tracker HTTP client as production makes it, with test-sized timeouts."""
    client = make_http_client(httpx.Timeout(10.0, connect=2.0))
    yield client
    client.close()


@pytest.fixture
def clock() -> Clock:
    """A clock that moves only when the test says so."""
    return Clock()


@pytest.fixture
def metrics() -> RelayMetrics:
    """Metrics in a registry of their own."""
    return RelayMetrics()


@pytest.fixture(scope="module")
def tracker_server() -> Iterator[Recorder]:
    """One recorder per module: stopping one takes half a second, so tests share it."""
    with running_recorder() as recorder:
        yield recorder


@pytest.fixture
def tracker(tracker_server: Recorder) -> Recorder:
    """The recording stand-in for Tracker on loopback, with nothing received and no script."""
    tracker_server.reset()
    return tracker_server


@dataclass
class Relay:
    """Everything a worker test touches: the queue, Tracker's stand-in, the clock, the metrics."""

    store: QueueStore
    http: httpx.Client
    clock: Clock
    metrics: RelayMetrics
    tracker: Recorder

    def queue(self, number: int = 1, *, version: str = "v5") -> NewDelivery:
        """Queue the n-th test commit for the stand-in Tracker, now."""
        base = f"{self.tracker.url}/services/{version}"
        return queue_commit(self.store, base, number, now=self.clock.now)


@pytest.fixture
def relay(
    store: QueueStore, http: httpx.Client, clock: Clock, metrics: RelayMetrics, tracker: Recorder
) -> Relay:
    """A fresh queue, a recording Tracker on loopback, a hand-moved clock and fresh metrics."""
    return Relay(store, http, clock, metrics, tracker)
