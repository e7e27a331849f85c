"""The queue's schema as numbered steps, for SQLite and PostgreSQL side by side.

A store applies, in one transaction each, the steps whose number is above the highest one in
its ``schema_version`` table, and records each step there. A database whose version is newer
than the last step here belongs to a newer hookrelay: the store refuses it rather than guess.
Steps are never edited once released; a change is a new step.
"""

from __future__ import annotations

from dataclasses import dataclass

from hookrelay.exceptions import StoreError

__all__ = ["LATEST_VERSION", "STEPS", "Step", "check_version"]


@dataclass(frozen=True, slots=True)
class Step:
    """One schema change: its number, what it does, and its statements for each database."""

    version: int
    description: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


SCHEMA_VERSION_SQLITE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)"""

SCHEMA_VERSION_POSTGRES = """
CREATE TABLE IF NOT EXISTS schema_version (
    version integer PRIMARY KEY,
    description text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""

_STATES = "('pending', 'leased', 'waiting', 'delivered', 'dead')"

STEPS: tuple[Step, ...] = (
    Step(
        version=1,
        description="deliveries: one row per commit and Tracker target",
        sqlite=(
            f"""
            CREATE TABLE deliveries (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                dedupe_key TEXT NOT NULL UNIQUE,
                target_url TEXT NOT NULL,
                token TEXT NOT NULL,
                token_fingerprint TEXT NOT NULL,
                commit_id TEXT NOT NULL,
                body BLOB NOT NULL,
                repository TEXT NOT NULL DEFAULT '',
                branch TEXT NOT NULL DEFAULT '',
                summary TEXT NOT NULL DEFAULT '',
                state TEXT NOT NULL CHECK (state IN {_STATES}),
                attempts INTEGER NOT NULL DEFAULT 0,
                created_at REAL NOT NULL,
                next_attempt_at REAL NOT NULL,
                first_attempt_at REAL,
                lease_until REAL,
                finished_at REAL,
                last_error TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at)",
            "CREATE INDEX deliveries_lease ON deliveries (state, lease_until)",
            "CREATE INDEX deliveries_finished ON deliveries (state, finished_at)",
        ),
        postgres=(
            f"""
            CREATE TABLE deliveries (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                dedupe_key text NOT NULL UNIQUE,
                target_url text NOT NULL,
                token text NOT NULL,
                token_fingerprint text NOT NULL,
                commit_id text NOT NULL,
                body bytea NOT NULL,
                repository text NOT NULL DEFAULT '',
                branch text NOT NULL DEFAULT '',
                summary text NOT NULL DEFAULT '',
                state text NOT NULL CHECK (state IN {_STATES}),
                attempts integer NOT NULL DEFAULT 0,
                created_at double precision NOT NULL,
                next_attempt_at double precision NOT NULL,
                first_attempt_at double precision,
                lease_until double precision,
                finished_at double precision,
                last_error text NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at)",
            "CREATE INDEX deliveries_lease ON deliveries (state, lease_until)",
            "CREATE INDEX deliveries_finished ON deliveries (state, finished_at)",
        ),
    ),
    Step(
        version=2,
        description="delivered_keys: what was delivered, kept after its row is pruned",
        sqlite=(
            """
            CREATE TABLE delivered_keys (
                dedupe_key TEXT PRIMARY KEY,
                delivered_at REAL NOT NULL
            )""",
        ),
        postgres=(
            """
            CREATE TABLE delivered_keys (
                dedupe_key text PRIMARY KEY,
                delivered_at double precision NOT NULL
            )""",
        ),
    ),
    Step(
        version=5,
        description="deliveries_due_order: leasing walks the due rows of one state in order",
        # SQLite's deliveries_due already ends in the rowid (id); PostgreSQL's needs id itself
        # so a lease reads the oldest due rows of a state without sorting them all.
        sqlite=(),
        postgres=("CREATE INDEX deliveries_due_order ON deliveries (state, next_attempt_at, id)",),
    ),
)

LATEST_VERSION = STEPS[-1].version


def check_version(current: int) -> list[Step]:
    """The steps a database at schema version ``current`` still needs, oldest first.

    Raises ``StoreError`` for a database made by a newer hookrelay.
    """
    if current > LATEST_VERSION:
        raise StoreError(
            f"the queue's schema is version {current}, newer than this hookrelay knows "
            f"({LATEST_VERSION}); upgrade hookrelay"
        )
    return [step for step in STEPS if step.version > current]
