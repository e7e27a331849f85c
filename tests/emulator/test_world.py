"""The emulator's world: stories, comments, and what a recorded commit does to them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hookrelay.core.source_commit import SourceCommit
from hookrelay.emulator.demo import seed_demo
from hookrelay.emulator.world import (
    DEFAULT_MAX_COMMENTS,
    DEFAULT_MAX_PROJECTS,
    DEFAULT_MAX_STORIES,
    World,
    commit_comment_text,
)
from hookrelay.exceptions import EmulatorFull
from hookrelay.settings import Settings


@pytest.fixture
def world() -> Iterator[World]:
    """A world in memory with a fixed clock."""
    opened = World.open(clock=lambda: datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    yield opened
    opened.close()


def commit(
    message: str, commit_id: str = "4f2a9c1", url: str = "https://x.test/c/1"
) -> SourceCommit:
    """A commit by Scotty."""
    return SourceCommit.of(commit_id=commit_id, message=message, author="Scotty", url=url)


def test_ids_look_like_trackers(world: World) -> None:
    """Projects get seven-digit IDs and stories nine-digit ones, counting up."""
    project = world.create_project("Enterprise")
    first = world.create_story(project.id, "one")
    second = world.create_story(project.id, "two")
    assert 1_000_000 <= project.id < 10_000_000
    assert 100_000_000 <= first.id < 1_000_000_000
    assert second.id == first.id + 1


def test_commit_comments_and_moves_every_story_it_names(world: World) -> None:
    """Each named story gets one comment and rule 7's state; unknown IDs are ignored."""
    project = world.create_project("Enterprise")
    feature = world.create_story(project.id, "Torpedoes", "feature")
    chore = world.create_story(project.id, "Polish", "chore")
    added = world.record_commit(
        commit(f"[Finishes #{feature.id} #{chore.id} #99999999] done"), commit_type="source_commit"
    )
    assert [c.story_id for c in added] == [feature.id, chore.id]
    assert world.story(project.id, feature.id).current_state == "finished"  # type: ignore[union-attr]
    assert world.story(project.id, chore.id).current_state == "accepted"  # type: ignore[union-attr]
    (comment,) = world.comments(feature.id)
    assert (
        comment.text
        == f"Commit: Scotty https://x.test/c/1 [Finishes #{feature.id} #{chore.id} #99999999] done"
    )
    assert comment.commit_identifier == "4f2a9c1"


def test_same_commit_twice_adds_no_second_comment(world: World) -> None:
    """A redelivered commit (same commit_id) leaves the story as the first delivery left it."""
    project = world.create_project("Enterprise")
    story = world.create_story(project.id, "Torpedoes")
    message = f"[#{story.id}] started"
    assert len(world.record_commit(commit(message), commit_type="source_commit")) == 1
    assert world.record_commit(commit(message), commit_type="source_commit") == []
    assert len(world.comments(story.id)) == 1


def test_another_commit_adds_another_comment(world: World) -> None:
    """Two different commits naming one story leave two comments, and the stronger state wins."""
    project = world.create_project("Enterprise")
    story = world.create_story(project.id, "Torpedoes")
    world.record_commit(commit(f"[#{story.id}] wip", "a1"), commit_type="source_commit")
    world.record_commit(commit(f"[Delivers #{story.id}] done", "b2"), commit_type="source_commit")
    assert [c.commit_identifier for c in world.comments(story.id)] == ["a1", "b2"]
    assert world.story(project.id, story.id).current_state == "delivered"  # type: ignore[union-attr]


def test_comment_without_url_names_the_revision() -> None:
    """A commit with no URL (Subversion) shows its revision where the URL would be."""
    svn = SourceCommit.of(commit_id="54321", message="[#1] Diverting power", author="scotty")
    assert commit_comment_text(svn) == "Commit: scotty 54321 [#1] Diverting power"


def test_world_in_a_file_outlives_its_process(tmp_path: Path) -> None:
    """A world kept in a SQLite file is found again, demo project included, when reopened."""
    path = tmp_path / "tracker.db"
    first = World.open(path)
    demo = seed_demo(first)
    first.record_commit(commit(f"[#{demo.stories[0].id}]"), commit_type="source_commit")
    first.close()
    again = World.open(path)
    assert seed_demo(again).project == demo.project
    assert again.story(demo.project.id, demo.stories[0].id).current_state == "started"  # type: ignore[union-attr]
    assert len(again.comments(demo.stories[0].id)) == 1
    assert len(again.projects()) == 1
    again.close()


def test_demo_project_has_one_story_of_each_type(world: World) -> None:
    """The seeded demo project holds a feature, a bug, a chore and a release, all unstarted."""
    demo = seed_demo(world)
    assert [s.story_type for s in demo.stories] == ["feature", "bug", "chore", "release"]
    assert {s.current_state for s in demo.stories} == {"unstarted"}


def test_ids_beyond_64_bits_name_nothing(world: World) -> None:
    """A commit naming an ID no database can hold ignores it, and still moves the real story."""
    demo = seed_demo(world)
    feature = demo.stories[0]
    huge = 2**63
    commit = SourceCommit.of(
        commit_id="c0ffee", message=f"[Finishes #{huge} #{feature.id}] big", author="Ada"
    )
    (comment,) = world.record_commit(commit, commit_type="source_commit")
    assert comment.story_id == feature.id
    assert world.story(demo.project.id, huge) is None
    assert world.story(huge, feature.id) is None
    assert world.project(huge) is None
    assert world.comments(huge) == []


def test_a_full_world_refuses_more_projects_and_stories() -> None:
    """Past max_projects or max_stories, creating one raises EmulatorFull naming the limit."""
    world = World.open(max_projects=2, max_stories=3)
    try:
        first = world.create_project("one")
        world.create_project("two")
        with pytest.raises(EmulatorFull, match="at most 2 projects"):
            world.create_project("three")
        for name in ("a", "b", "c"):
            world.create_story(first.id, name)
        with pytest.raises(EmulatorFull, match="at most 3 stories"):
            world.create_story(first.id, "d")
        assert (len(world.projects()), len(world.stories(first.id))) == (2, 3)
    finally:
        world.close()


def test_the_default_limits_are_the_settings_defaults() -> None:
    """`hookrelay emulate` and `serve`'s emulator hold the same number of projects and stories."""
    defaults = Settings.model_construct()
    assert (
        defaults.emulator_max_projects,
        defaults.emulator_max_stories,
        defaults.emulator_max_comments,
    ) == (DEFAULT_MAX_PROJECTS, DEFAULT_MAX_STORIES, DEFAULT_MAX_COMMENTS)


def test_a_world_in_a_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """The world's file, its WAL and shared memory are created 0600 whatever the umask allows."""
    previous = os.umask(0o022)
    try:
        world = World.open(tmp_path / "tracker.db")
        world.create_project("private")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        world.close()
    finally:
        os.umask(previous)
    assert modes == {"tracker.db": 0o600, "tracker.db-wal": 0o600, "tracker.db-shm": 0o600}


def test_a_full_world_takes_no_more_comments() -> None:
    """Past max_comments, a commit raises EmulatorFull and leaves its stories as they were."""
    world = World.open(max_comments=1)
    try:
        project = world.create_project("one")
        story = world.create_story(project.id, "a")
        world.record_commit(commit(f"[#{story.id}] first", "c1"), commit_type="source_commit")
        with pytest.raises(EmulatorFull, match="at most 1 comments"):
            world.record_commit(
                commit(f"[Finishes #{story.id}] second", "c2"), commit_type="source_commit"
            )
        assert [c.commit_identifier for c in world.comments(story.id)] == ["c1"]
        assert world.story(project.id, story.id).current_state == "started"  # type: ignore[union-attr]
    finally:
        world.close()
