"""Fresh queue databases for every suite: a SQLite file, or a PostgreSQL schema of its own.

PostgreSQL tests read ``HOOKRELAY_TEST_POSTGRES_URL``. Without it they skip on a laptop and
fail under CI (``CI`` set), so a pipeline cannot pass by skipping them. Each database is a schema
of its own (``search_path`` in the URL), dropped afterwards, so parallel and repeated runs never
see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

POSTGRES_ENV = "HOOKRELAY_TEST_POSTGRES_URL"
KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


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


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of an empty queue database of ``kind``, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'queue.db'}"
        return
    base = postgres_base_url()
    schema = f"hookrelay_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(base, schema)
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
