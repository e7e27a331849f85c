"""What only the PostgreSQL store has to handle: a server that drops its connection."""

from __future__ import annotations

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
