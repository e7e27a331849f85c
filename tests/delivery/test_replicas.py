"""Several workers on one queue (replicas), and a worker that dies: every commit arrives once."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx

from hookrelay.core.backoff import RetryPolicy
from hookrelay.delivery import DeliveryWorker
from hookrelay.queue import State
from tests.delivery.conftest import Clock, queue_commit
from tests.queue.conftest import QueueDatabase
from tests.support.recorder import Recorder
from tests.support.waiting import wait_until


def test_two_replicas_post_each_commit_once(
    queue_database: QueueDatabase, http: httpx.Client, tracker: Recorder
) -> None:
    """Two workers with their own stores on one database deliver every commit, none twice."""
    replicas = [queue_database.open(), queue_database.open()]
    total = 40
    for number in range(total):
        queue_commit(replicas[0], f"{tracker.url}/services/v5", number, now=time.time())
    stop = threading.Event()
    workers = [
        DeliveryWorker(store, http, concurrency=3, poll_interval=0.02, policy=RetryPolicy())
        for store in replicas
    ]
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    for thread in threads:
        thread.start()
    try:
        wait_until(
            lambda: replicas[1].counts()[State.DELIVERED] >= total,
            20,
            lambda: f"delivered {replicas[1].counts()} of {total}",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    posted = Counter(tracker.bodies())
    assert len(posted) == total
    assert max(posted.values()) == 1


def test_a_dead_workers_commit_is_delivered_when_its_lease_expires(
    queue_database: QueueDatabase, http: httpx.Client, tracker: Recorder
) -> None:
    """A commit leased by a worker that died is delivered by another once the lease expires."""
    store = queue_database.open()
    clock = Clock()
    queue_commit(store, f"{tracker.url}/services/v5", now=clock.now)
    # The first worker leases the commit and dies before posting it.
    (abandoned,) = store.lease(now=clock.now, limit=1, lease_seconds=60)
    survivor = DeliveryWorker(store, http, lease_seconds=60, clock=clock)
    assert survivor.run_once() == 0
    clock.advance(60)
    assert survivor.run_once() == 1
    delivered = store.get(abandoned.id)
    assert delivered is not None
    assert (delivered.state, delivered.attempts) == (State.DELIVERED, 2)
    assert len(tracker.received) == 1
