"""End to end: a real receiver (uvicorn) and real workers over a real queue, SQLite or PostgreSQL.

Every test that takes ``database_url`` runs twice: on a SQLite file and on a fresh PostgreSQL
schema (``tests.web.databases``: skipped on a laptop without PostgreSQL, failed under CI).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookrelay.metrics import RelayMetrics
from hookrelay.queue import QueueStore, State, open_store
from hookrelay.service import delivery_http_client, delivery_worker
from hookrelay.settings import Settings
from hookrelay.web import create_app
from tests.support.databases import KINDS, fresh_database
from tests.support.waiting import wait_until
from tests.web.server import running_app

SECRET = "It's a Secret to Everybody"

# Fast timings so retries and lease expiry happen in a test's time, never fixed sleeps.
FAST = {
    "poll_interval": 0.05,
    "retry_first_delay": 0.2,
    "retry_max_delay": 0.5,
    "lease_seconds": 3.0,
    "concurrency": 4,
}


@pytest.fixture(params=KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty queue database: a SQLite file, or a PostgreSQL schema of its own."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@dataclass
class Relay:
    """A running relay: receiver URL and client, the queue, and its metrics."""

    url: str
    client: httpx.Client
    store: QueueStore
    metrics: RelayMetrics

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""

        def seen() -> str:
            counts = {s.value: n for s, n in self.store.counts().items()}
            return f"{what}; queue: {counts}"

        wait_until(condition, timeout, seen, every=0.05)

    def wait_delivered(self, count: int, timeout: float = 30.0) -> None:
        """Wait until ``count`` deliveries are delivered and none is left to do."""

        def done() -> bool:
            counts = self.store.counts()
            busy = counts[State.PENDING] + counts[State.LEASED] + counts[State.WAITING]
            return counts[State.DELIVERED] == count and busy == 0

        self.wait_until(done, f"{count} deliveries", timeout)


@contextmanager
def running_relay(database_url: str, **overrides: Any) -> Iterator[Relay]:
    """Receiver and workers in this process, wired as ``hookrelay serve`` wires them."""
    values: dict[str, Any] = {"database_url": database_url, "github_secret": SECRET, **FAST}
    values.update(overrides)
    settings = Settings.model_validate(values)
    store = open_store(settings.database_url)
    http = delivery_http_client(settings)
    metrics = RelayMetrics()
    stop = threading.Event()
    worker = threading.Thread(
        target=delivery_worker(settings, store, http, metrics).run, args=(stop,), daemon=True
    )
    worker.start()
    try:
        with running_app(create_app(settings, store, metrics=metrics)) as server:
            yield Relay(server.url, server.client, store, metrics)
    finally:
        stop.set()
        worker.join(30)
        http.close()
        store.close()
