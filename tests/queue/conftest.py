"""One fresh queue database per test, for every store: a SQLite file, or a PostgreSQL schema.

PostgreSQL tests read ``HOOKRELAY_TEST_POSTGRES_URL``. Without it they skip on a laptop but
fail under CI (``CI`` set), so a misconfigured pipeline cannot pass by skipping them. Each test
gets a schema of its own (``search_path`` in the URL), dropped afterwards, so parallel and
repeated runs never see each other's rows.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hookrelay.queue import QueueStore, open_store

POSTGRES_ENV = "HOOKRELAY_TEST_POSTGRES_URL"


def postgres_base_url() -> str:
    """The test server's URL; skip without one locally, fail without one in CI."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {POSTGRES_ENV} is not: the PostgreSQL tests must run")
        pytest.skip(f"{POSTGRES_ENV} is not set")
    return url


def with_search_path(url: str, schema: str) -> str:
    """``url`` with libpq ``options`` that put every table in ``schema``."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@dataclass
class QueueDatabase:
    """A fresh database for one test; ``open()`` gives another store on it (a restart, a replica)."""

    kind: str
    url: str
    admin_url: str = ""
    schema: str = ""
    stores: list[QueueStore] = field(default_factory=list)

    def open(self) -> QueueStore:
        """A new store on this database, closed when the test ends."""
        store = open_store(self.url)
        self.stores.append(store)
        return store

    def execute(self, sql: str) -> list[tuple[Any, ...]]:
        """Run raw SQL on the database behind the store's back (for schema tests)."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as db:
                return db.execute(sql).fetchall()
        with psycopg.connect(self.url, autocommit=True) as db:
            cursor = db.execute(sql)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def queue_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QueueDatabase]:
    """A fresh, empty queue database of each kind."""
    if request.param == "sqlite":
        database = QueueDatabase("sqlite", f"sqlite:///{tmp_path / 'queue.db'}")
    else:
        base = postgres_base_url()
        schema = f"hookrelay_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        database = QueueDatabase("postgres", with_search_path(base, schema), base, schema)
    try:
        yield database
    finally:
        for store in database.stores:
            store.close()
        if database.kind == "postgres":
            with psycopg.connect(database.admin_url, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{database.schema}" CASCADE')


@pytest.fixture
def store(queue_database: QueueDatabase) -> QueueStore:
    """A store on a fresh queue database."""
    return queue_database.open()
