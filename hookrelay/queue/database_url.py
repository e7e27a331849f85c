"""Opening the queue a database URL names (``HOOKRELAY_DATABASE_URL``).

=================================  ===========================================================
URL                                store
=================================  ===========================================================
``sqlite:///hookrelay.db``         SQLite file, relative to the working directory
``sqlite:////var/lib/hookrelay.db``  SQLite file, absolute path (four slashes)
``sqlite:///:memory:``             SQLite in memory (one process; for tests)
``postgresql://user@host/db``      PostgreSQL (``postgres://`` too); libpq parameters such as
                                   ``?options=-csearch_path%3Dhookrelay`` pass through
=================================  ===========================================================
"""

from __future__ import annotations

from urllib.parse import urlsplit

from hookrelay.exceptions import ConfigError
from hookrelay.queue.store import QueueStore

__all__ = ["DEFAULT_DATABASE_URL", "check_database_url", "open_store", "sqlite_path"]

DEFAULT_DATABASE_URL = "sqlite:///./hookrelay.db"


def sqlite_path(database_url: str) -> str:
    """The file a ``sqlite:///path`` URL names; ConfigError for anything else."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise ConfigError(f"database URL {database_url!r} is not sqlite:///PATH")
    path = database_url[len(prefix) :]
    if not path or "?" in path or "#" in path:
        raise ConfigError(
            f"database URL {database_url!r} needs a file path and no query: sqlite:///PATH"
        )
    return path


def check_database_url(database_url: str) -> str:
    """Return the scheme (``sqlite`` or ``postgresql``) of a URL hookrelay can use; ConfigError
    naming what it accepts for any other. Opens nothing."""
    url = database_url.strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        sqlite_path(url)
        return "sqlite"
    if scheme in {"postgresql", "postgres"}:
        return "postgresql"
    # The URL may hold a password: name only its scheme.
    raise ConfigError(
        f"database URL scheme {scheme or '(none)'!r} is not supported: "
        "use sqlite:///PATH or postgresql://USER@HOST/DATABASE"
    )


def open_store(database_url: str, *, create: bool = True) -> QueueStore:
    """Open the queue ``database_url`` names, bringing its schema up to date.

    ``create=False`` refuses to make a new SQLite file (for commands that only read a queue).
    A URL hookrelay cannot use is a ``ConfigError``; a database that cannot be reached or
    opened is a ``StoreError``. The URL may hold a password: errors name only its scheme.
    """
    url = database_url.strip()
    if check_database_url(url) == "sqlite":
        # Imported here, like PostgresStore below, so a command that only names a queue
        # (``--help``, ``parse``) does not load a database driver.
        from hookrelay.queue.sqlite import SqliteStore  # noqa: PLC0415

        return SqliteStore(sqlite_path(url), create=create)
    # Imported here so commands that never touch PostgreSQL (a git hook) do not load psycopg.
    from hookrelay.queue.postgres import PostgresStore  # noqa: PLC0415

    return PostgresStore(url)
