"""What only the PostgreSQL store has to handle: a server that drops its connection."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest

from hookrelay.exceptions import StoreError
from hookrelay.queue import State
from hookrelay.queue.postgres import PostgresStore
from tests.queue.conftest import QueueDatabase
from tests.queue.test_store_contract import new_delivery


@pytest.mark.postgres
@pytest.mark.parametrize("queue_database", ["postgres"], indirect=True)
def test_a_dropped_connection_is_reopened(queue_database: QueueDatabase) -> None:
    """After the server ends the store's session, one call fails with StoreError and the next
    reconnects; nothing committed is lost."""
    # A name of its own, so the test ends this store's session and no one else's.
    name = f"hookrelay_test_{uuid.uuid4().hex[:12]}"
    store = PostgresStore(f"{queue_database.url}&application_name={name}")
    try:
        store.enqueue([new_delivery(1)], now=0.0)
        with psycopg.connect(queue_database.url, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = %s",
                (name,),
            ).fetchall()
        assert ended == [(True,)]
        with pytest.raises(StoreError):
            store.counts()
        assert store.counts()[State.PENDING] == 1
    finally:
        store.close()


def _sessions(url: str, name: str) -> list[tuple[int]]:
    with psycopg.connect(url, autocommit=True) as admin:
        return admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchall()


@pytest.mark.postgres
@pytest.mark.parametrize("queue_database", ["postgres"], indirect=True)
def test_a_dropped_bookkeeping_connection_is_reopened(queue_database: QueueDatabase) -> None:
    """A worker's lease or result whose connection the server ended fails with StoreError once;
    the next reconnects, and the lease taken before is still recorded."""
    name = f"hookrelay_test_{uuid.uuid4().hex[:12]}"
    store = PostgresStore(f"{queue_database.url}&application_name={name}")
    try:
        store.enqueue([new_delivery(1), new_delivery(2)], now=0.0)
        (first,) = store.lease(now=1.0, limit=1, lease_seconds=60)
        with psycopg.connect(queue_database.url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (name,),
            )
        with pytest.raises(StoreError, match="failed"):
            store.lease(now=1.0, limit=1, lease_seconds=60)
        assert store.mark_delivered(first, now=2.0)
        assert [d.id for d in store.lease(now=3.0, limit=2, lease_seconds=60)] == [2]
    finally:
        store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("queue_database", ["postgres"], indirect=True)
def test_more_threads_than_bookkeeping_connections_take_turns(
    queue_database: QueueDatabase,
) -> None:
    """Forty threads leasing and recording at once all finish, every commit delivered once,
    on no more connections than the store keeps for bookkeeping (16) and its durable one."""
    name = f"hookrelay_test_{uuid.uuid4().hex[:12]}"
    store = PostgresStore(f"{queue_database.url}&application_name={name}")
    total, threads = 400, 40
    try:
        store.enqueue([new_delivery(n) for n in range(total)], now=0.0)
        start = threading.Barrier(threads)
        delivered: list[int] = []
        errors: list[BaseException] = []

        def work() -> None:
            try:
                start.wait()
                while batch := store.lease(now=1.0, limit=1, lease_seconds=600):
                    for delivery in batch:
                        assert store.mark_delivered(delivery, now=2.0)
                        delivered.append(delivery.id)
            except BaseException as exc:
                errors.append(exc)

        running = [threading.Thread(target=work) for _ in range(threads)]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join(120)
        assert errors == []
        assert sorted(delivered) == list(range(1, total + 1))
        assert len(_sessions(queue_database.url, name)) <= 16 + 1
    finally:
        store.close()
