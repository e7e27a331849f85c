"""The queue's schema as numbered steps, for SQLite and PostgreSQL side by side.

A store applies, in one transaction each, the steps whose number is above the highest one in
its ``schema_version`` table, and records each step there. A database whose version is newer
than the last step here belongs to a newer hookrelay: the store refuses it rather than guess.
Steps are never edited once released; a change is a new step.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from hookrelay.exceptions import StoreError

__all__ = ["LATEST_VERSION", "STEPS", "Step", "check_version", "steps_to_apply"]


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
        version=3,
        description="deliveries.repaired: what the ingest repaired; pending bytes per token",
        sqlite=(
            "ALTER TABLE deliveries ADD COLUMN repaired TEXT NOT NULL DEFAULT ''",
            "CREATE INDEX deliveries_token ON deliveries (token_fingerprint, state)",
        ),
        postgres=(
            "ALTER TABLE deliveries ADD COLUMN repaired text NOT NULL DEFAULT ''",
            "CREATE INDEX deliveries_token ON deliveries (token_fingerprint, state)",
        ),
    ),
    Step(
        version=4,
        description=(
            "deliveries.token_source and story_ids; attempts: every answer Tracker gave a delivery"
        ),
        sqlite=(
            # 'settings': the default or a route's token, replaced by today's on a retry;
            # 'commit': brought by the commit (?token=, ingest), kept; '': queued before this
            # step, kept (nobody knows where it came from).
            "ALTER TABLE deliveries ADD COLUMN token_source TEXT NOT NULL DEFAULT ''",
            # The story IDs the message names, as ' 123 456 ', for the dashboard's filter.
            "ALTER TABLE deliveries ADD COLUMN story_ids TEXT NOT NULL DEFAULT ''",
            """
            CREATE TABLE attempts (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                delivery_id INTEGER NOT NULL,
                number INTEGER NOT NULL,
                at REAL NOT NULL,
                outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'waiting', 'dead')),
                answer TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX attempts_delivery ON attempts (delivery_id, id)",
            # SQLite enforces no foreign keys unless asked on every connection: a trigger
            # forgets a pruned or discarded delivery's attempts instead.
            """
            CREATE TRIGGER attempts_forgotten AFTER DELETE ON deliveries
            BEGIN
                DELETE FROM attempts WHERE delivery_id = OLD.id;
            END""",
        ),
        postgres=(
            "ALTER TABLE deliveries ADD COLUMN token_source text NOT NULL DEFAULT ''",
            "ALTER TABLE deliveries ADD COLUMN story_ids text NOT NULL DEFAULT ''",
            """
            CREATE TABLE attempts (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                delivery_id bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
                number integer NOT NULL,
                at double precision NOT NULL,
                outcome text NOT NULL CHECK (outcome IN ('delivered', 'waiting', 'dead')),
                answer text NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX attempts_delivery ON attempts (delivery_id, id)",
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
    Step(
        version=6,
        description="inbox: pushes accepted while the receiver was busy, not yet expanded",
        # A push as read and checked (hookrelay.core.webhooks.encode_push) and the ?token= its
        # hook URL carried; expanded into deliveries and deleted in one transaction
        # (hookrelay.inbox).
        sqlite=(
            """
            CREATE TABLE inbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                received_at REAL NOT NULL,
                token TEXT,
                push BLOB NOT NULL
            )""",
        ),
        postgres=(
            """
            CREATE TABLE inbox (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                received_at double precision NOT NULL,
                token text,
                push bytea NOT NULL
            )""",
        ),
    ),
    Step(
        version=7,
        description="deliveries: no deliveries_due; attempts: a trigger forgets them, not a key",
        # SQLite keeps its deliveries_due (its rowid makes it the lease's index) and already
        # forgets attempts with a trigger (step 4).
        sqlite=(),
        postgres=(
            # Every state change is an UPDATE that adds an entry to every index of deliveries:
            # deliveries_due_order (step 5) serves every query deliveries_due did (same leading
            # columns, and EXPLAIN shows none chose deliveries_due), so one fewer.
            "DROP INDEX IF EXISTS deliveries_due",
            # The foreign key checked the delivery of every attempt inserted, though attempts
            # are only ever inserted by the statement that updates their delivery. A trigger
            # keeps what the key's ON DELETE CASCADE did: a pruned or discarded delivery's
            # attempts go with it, in the same statement. search_path is the one the function
            # is made in, the queue's schema.
            "ALTER TABLE attempts DROP CONSTRAINT IF EXISTS attempts_delivery_id_fkey",
            """
            CREATE FUNCTION attempts_forgotten() RETURNS trigger
            LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
            BEGIN
                DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM forgotten);
                RETURN NULL;
            END
            $$""",
            """
            CREATE TRIGGER attempts_forgotten AFTER DELETE ON deliveries
            REFERENCING OLD TABLE AS forgotten
            FOR EACH STATEMENT EXECUTE FUNCTION attempts_forgotten()""",
        ),
    ),
)

LATEST_VERSION = max(step.version for step in STEPS)


def check_version(current: int) -> list[Step]:
    """The steps a database at schema version ``current`` still needs, oldest first.

    Raises ``StoreError`` for a database made by a newer hookrelay.
    """
    if current > LATEST_VERSION:
        raise StoreError(
            f"the queue's schema is version {current}, newer than this hookrelay knows "
            f"({LATEST_VERSION}); upgrade hookrelay"
        )
    return sorted((step for step in STEPS if step.version > current), key=lambda s: s.version)


def steps_to_apply(applied: Collection[int]) -> list[Step]:
    """The steps a database that recorded the versions ``applied`` still needs, oldest first.

    Steps are numbered by the change that brought them, so a database may have a gap (step 3
    applied, step 2 not yet, when branches merge in another order): every missing step runs.
    Raises ``StoreError`` for a database made by a newer hookrelay.
    """
    check_version(max(applied, default=0))
    return sorted((s for s in STEPS if s.version not in applied), key=lambda s: s.version)
