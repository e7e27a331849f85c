"""The demo project ``hookrelay emulate`` prints at start-up, so a newcomer can try it at once."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from hookrelay.emulator.workflow import STORY_TYPES
from hookrelay.emulator.world import Project, Story, World

__all__ = ["DEMO_PROJECT_NAME", "DEMO_TOKEN", "DemoProject", "banner", "seed_demo"]

DEMO_PROJECT_NAME = "hookrelay demo"
DEMO_TOKEN = "hookrelay-demo-token"  # noqa: S105 (printed at start-up; the emulator guards nothing real)

_STORY_NAMES = {
    "feature": "Torpedoes powered",
    "bug": "Warp core leaks",
    "chore": "Polish the bridge",
    "release": "Maiden voyage",
}


@dataclass(frozen=True, slots=True)
class DemoProject:
    """The demo project and its stories, one of each type."""

    project: Project
    stories: tuple[Story, ...]


def seed_demo(world: World) -> DemoProject:
    """Create the demo project, or find it again in a world kept in a file."""
    for project in world.projects():
        if project.name == DEMO_PROJECT_NAME:
            return DemoProject(project, tuple(world.stories(project.id)))
    project = world.create_project(DEMO_PROJECT_NAME)
    stories = tuple(
        world.create_story(project.id, _STORY_NAMES[story_type], story_type)
        for story_type in STORY_TYPES
    )
    return DemoProject(project, stories)


def banner(base_url: str, token: str, demo: DemoProject, *, with_curl: bool = True) -> str:
    """What the emulator tells a newcomer: its URLs, its token, the demo stories, a curl to try.

    ``with_curl=False`` leaves the curl lines out where the banner goes through the log, whose
    filter blanks every ``X-TrackerToken:`` value and would make them fail as printed.
    """
    v5 = f"{base_url}/services/v5"
    header = shlex.quote(f"X-TrackerToken: {token}")
    lines = [
        f"Tracker emulator on {base_url}",
        f"  v5 API (JSON): {v5}",
        f"  v3 API (XML):  {base_url}/services/v3",
        f"  token:         {token}",
        f"  project {demo.project.id} ({demo.project.name}):",
    ]
    lines += [
        f"    {story.story_type:<8} {story.id}  {story.name} ({story.current_state})"
        for story in demo.stories
    ]
    if demo.stories and with_curl:
        feature = demo.stories[0]
        body = (
            '{"source_commit": {"commit_id": "abc123", "author": "Scotty", "url": "",'
            f' "message": "[Finishes #{feature.id}] Torpedoes powered"}}}}'
        )
        lines += [
            "  try:",
            f"    curl -H {header} -H 'Content-Type: application/json' \\",
            f"      -d {shlex.quote(body)} {v5}/source_commits",
            f"    curl -H {header} {v5}/projects/{demo.project.id}/stories/{feature.id}",
        ]
    return "\n".join(lines)
