"""Fresh queue databases for receiver and end-to-end tests: a SQLite file or a PostgreSQL schema.

PostgreSQL tests read ``HOOKRELAY_TEST_POSTGRES_URL``. Without it they skip on a laptop and
fail under CI (``CI`` set), so a pipeline cannot pass by skipping them.
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
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
