"""The emulator's projects, stories and comments, kept in SQLite (in memory, or in a file).

One SQLite connection behind one lock: the emulator is a demo and test partner, not a
production store, and a single writer keeps "same commit twice adds no second comment" simple.
It holds at most ``max_projects`` projects, ``max_stories`` stories and ``max_comments`` comments
(``EmulatorFull`` past them), so a caller with the demo token cannot fill the disk. A world kept
in a file is created readable by its owner only, as the queue is.
Every call is one short transaction, so the web routes (async or not) call it directly.
IDs start where Tracker's were in its last years (seven-digit projects, nine-digit stories), so
a client that assumed small numbers would show it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, cast

from hookrelay.core.messages import parse_message
from hookrelay.core.source_commit import SourceCommit
from hookrelay.emulator.workflow import StoryState, StoryType, next_state
from hookrelay.exceptions import EmulatorFull
from hookrelay.queue.sqlite import create_private
from hookrelay.queue.store import MAX_ROW_ID

__all__ = [
    "DEFAULT_MAX_COMMENTS",
    "DEFAULT_MAX_PROJECTS",
    "DEFAULT_MAX_STORIES",
    "Comment",
    "Project",
    "Story",
    "World",
    "commit_comment_text",
]

DEFAULT_MAX_PROJECTS: Final = 100
DEFAULT_MAX_STORIES: Final = 10_000
DEFAULT_MAX_COMMENTS: Final = 100_000

FIRST_PROJECT_ID: Final = 2_600_000
FIRST_STORY_ID: Final = 187_000_000
FIRST_COMMENT_ID: Final = 231_000_000
OWNER_PERSON_ID: Final = 3_100_001
OWNER_NAME: Final = "Tracker Emulator"

_STORY_COLUMNS = "id, project_id, name, story_type, current_state, created_at, updated_at"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stories (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL,
    story_type TEXT NOT NULL,
    current_state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS comments (
    id INTEGER PRIMARY KEY,
    story_id INTEGER NOT NULL REFERENCES stories(id),
    text TEXT NOT NULL,
    commit_identifier TEXT,
    commit_type TEXT,
    person_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (story_id, commit_identifier)
);
"""


@dataclass(frozen=True, slots=True)
class Project:
    """A Tracker project."""

    id: int
    name: str
    created_at: str


@dataclass(frozen=True, slots=True)
class Story:
    """A story in a project, with its type and current state."""

    id: int
    project_id: int
    name: str
    story_type: StoryType
    current_state: StoryState
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment on a story; commits leave one with ``commit_identifier`` set."""

    id: int
    story_id: int
    text: str
    commit_identifier: str | None
    commit_type: str | None
    person_id: int
    created_at: str


def commit_comment_text(commit: SourceCommit) -> str:
    """The comment Tracker wrote for a commit: ``Commit: AUTHOR URL MESSAGE``.

    Where a commit has no URL (Subversion), Tracker's v3 documentation shows the revision in
    its place, so the commit id stands in for it.
    """
    parts = ["Commit:", commit.author, commit.url or commit.commit_id, commit.message]
    return " ".join(part for part in parts if part)


def _storable(object_id: int) -> bool:
    return 0 < object_id <= MAX_ROW_ID


def _utc_now() -> datetime:
    return datetime.now(UTC)


class World:
    """Projects, stories and comments, and what a source commit does to them."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        clock: Callable[[], datetime] = _utc_now,
        max_projects: int = DEFAULT_MAX_PROJECTS,
        max_stories: int = DEFAULT_MAX_STORIES,
        max_comments: int = DEFAULT_MAX_COMMENTS,
    ) -> None:
        self._db = connection
        self._lock = threading.Lock()
        self._clock = clock
        self.max_projects = max_projects
        self.max_stories = max_stories
        self.max_comments = max_comments
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        max_projects: int = DEFAULT_MAX_PROJECTS,
        max_stories: int = DEFAULT_MAX_STORIES,
        max_comments: int = DEFAULT_MAX_COMMENTS,
    ) -> World:
        """A world in memory, or kept in the SQLite file at ``path`` (created 0600 when missing)."""
        if path is not None:
            create_private(str(path))
        # Routes run in the server's thread pool; the lock above serialises every use.
        connection = sqlite3.connect(
            ":memory:" if path is None else str(path), check_same_thread=False
        )
        if path is not None:
            connection.execute("PRAGMA journal_mode=WAL")
        return cls(
            connection,
            clock=clock,
            max_projects=max_projects,
            max_stories=max_stories,
            max_comments=max_comments,
        )

    def close(self) -> None:
        """Close the underlying database."""
        with self._lock:
            self._db.close()

    def _now(self) -> str:
        return self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _next_id(self, table: str, first: int) -> int:
        row = self._db.execute(f"SELECT MAX(id) FROM {table}").fetchone()  # noqa: S608 (fixed names)
        return first + 1 if row[0] is None else int(row[0]) + 1

    def _check_room(self, table: str, limit: int, setting: str) -> None:
        (count,) = self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608
        if count >= limit:
            raise EmulatorFull(
                f"this Tracker emulator holds at most {limit} {table} ({setting}); "
                "it is a demo, not a Tracker"
            )

    # --- projects -------------------------------------------------------------------------

    def create_project(self, name: str) -> Project:
        """Add a project named ``name``."""
        with self._lock, self._db:
            self._check_room("projects", self.max_projects, "--max-projects")
            project = Project(self._next_id("projects", FIRST_PROJECT_ID), name, self._now())
            self._db.execute(
                "INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)",
                (project.id, project.name, project.created_at),
            )
        return project

    def projects(self) -> list[Project]:
        """Every project, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, name, created_at FROM projects ORDER BY id")
            return [Project(*row) for row in rows]

    def project(self, project_id: int) -> Project | None:
        """The project with this ID, or None."""
        if not _storable(project_id):
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT id, name, created_at FROM projects WHERE id = ?", (project_id,)
            ).fetchone()
        return None if row is None else Project(*row)

    # --- stories --------------------------------------------------------------------------

    def create_story(
        self,
        project_id: int,
        name: str,
        story_type: StoryType = "feature",
        current_state: StoryState = "unstarted",
    ) -> Story:
        """Add a story to an existing project."""
        with self._lock, self._db:
            self._check_room("stories", self.max_stories, "--max-stories")
            now = self._now()
            story = Story(
                id=self._next_id("stories", FIRST_STORY_ID),
                project_id=project_id,
                name=name,
                story_type=story_type,
                current_state=current_state,
                created_at=now,
                updated_at=now,
            )
            self._db.execute(
                "INSERT INTO stories (id, project_id, name, story_type, current_state,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    story.id,
                    story.project_id,
                    story.name,
                    story.story_type,
                    story.current_state,
                    story.created_at,
                    story.updated_at,
                ),
            )
        return story

    def stories(self, project_id: int) -> list[Story]:
        """The stories of a project, oldest first."""
        if not _storable(project_id):
            return []
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_STORY_COLUMNS} FROM stories WHERE project_id = ? ORDER BY id",  # noqa: S608
                (project_id,),
            ).fetchall()
        return [_story(row) for row in rows]

    def story(self, project_id: int, story_id: int) -> Story | None:
        """The story with this ID in this project, or None."""
        if not (_storable(project_id) and _storable(story_id)):
            return None
        with self._lock:
            row = self._db.execute(
                f"SELECT {_STORY_COLUMNS} FROM stories WHERE id = ? AND project_id = ?",  # noqa: S608
                (story_id, project_id),
            ).fetchone()
        return None if row is None else _story(row)

    def comments(self, story_id: int) -> list[Comment]:
        """The comments on a story, oldest first."""
        if not _storable(story_id):
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT id, story_id, text, commit_identifier, commit_type, person_id, created_at"
                " FROM comments WHERE story_id = ? ORDER BY id",
                (story_id,),
            ).fetchall()
        return [Comment(*row) for row in rows]

    # --- commits --------------------------------------------------------------------------

    def record_commit(self, commit: SourceCommit, *, commit_type: str) -> list[Comment]:
        """Apply one commit: a comment and rule 7's state change on every story it names.

        Stories that do not exist are ignored, as Tracker ignored them. A story that already has
        a comment for this ``commit_id`` is left alone, so a redelivered commit changes nothing.
        Returns the comments this call added; ``EmulatorFull`` (nothing changed) when the world
        holds ``max_comments`` already.
        """
        text = commit_comment_text(commit)
        added: list[Comment] = []
        with self._lock, self._db:
            for ref in parse_message(commit.message):
                if not _storable(ref.id):
                    continue  # no story has such an ID; Tracker ignored unknown IDs
                row = self._db.execute(
                    "SELECT story_type, current_state FROM stories WHERE id = ?", (ref.id,)
                ).fetchone()
                if row is None:
                    continue
                self._check_room("comments", self.max_comments, "--max-comments")
                now = self._now()
                comment = Comment(
                    id=self._next_id("comments", FIRST_COMMENT_ID),
                    story_id=ref.id,
                    text=text,
                    commit_identifier=commit.commit_id,
                    commit_type=commit_type,
                    person_id=OWNER_PERSON_ID,
                    created_at=now,
                )
                inserted = self._db.execute(
                    "INSERT OR IGNORE INTO comments (id, story_id, text, commit_identifier,"
                    " commit_type, person_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        comment.id,
                        comment.story_id,
                        comment.text,
                        comment.commit_identifier,
                        comment.commit_type,
                        comment.person_id,
                        comment.created_at,
                    ),
                )
                if inserted.rowcount == 0:
                    continue
                added.append(comment)
                state = next_state(cast(StoryType, row[0]), cast(StoryState, row[1]), ref.action)
                if state != row[1]:
                    self._db.execute(
                        "UPDATE stories SET current_state = ?, updated_at = ? WHERE id = ?",
                        (state, now, ref.id),
                    )
        return added


def _story(row: tuple[object, ...]) -> Story:
    story_id, project_id, name, story_type, state, created_at, updated_at = row
    return Story(
        id=cast(int, story_id),
        project_id=cast(int, project_id),
        name=cast(str, name),
        story_type=cast(StoryType, story_type),
        current_state=cast(StoryState, state),
        created_at=cast(str, created_at),
        updated_at=cast(str, updated_at),
    )
