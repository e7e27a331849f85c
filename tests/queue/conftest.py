"""One fresh queue database per test, for every store (``tests/support/databases.py``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hookrelay.queue import QueueStore, open_store
from tests.support.databases import KINDS, fresh_database


@dataclass
class QueueDatabase:
    """A fresh database for one test; ``open()`` gives another store on it (a restart, a replica)."""

    kind: str
    url: str
    stores: list[QueueStore] = field(default_factory=list)

    def open(self) -> QueueStore:
        """A new store on this database, closed when the test ends."""
        store = open_store(self.url)
        self.stores.append(store)
        return store

    def execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run raw SQL on the database behind the store's back (for schema tests); ``?``
        placeholders, whatever the database."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as db:
                return db.execute(sql, parameters).fetchall()
        with psycopg.connect(self.url, autocommit=True) as db:
            cursor = db.execute(sql.replace("?", "%s"), parameters)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(params=KINDS)
def queue_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QueueDatabase]:
    """A fresh, empty queue database of each kind."""
    with fresh_database(request.param, tmp_path) as url:
        database = QueueDatabase(request.param, url)
        try:
            yield database
        finally:
            for store in database.stores:
                store.close()


@pytest.fixture
def store(queue_database: QueueDatabase) -> QueueStore:
    """A store on a fresh queue database."""
    return queue_database.open()
