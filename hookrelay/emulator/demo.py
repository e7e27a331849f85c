"""The demo project ``hookrelay emulate`` prints at start-up, so a newcomer can try it at once."""

from __future__ import annotations

from dataclasses import dataclass

from hookrelay.emulator.workflow import STORY_TYPES
from hookrelay.emulator.world import Project, Story, World

__all__ = ["DEMO_PROJECT_NAME", "DemoProject", "seed_demo"]

DEMO_PROJECT_NAME = "hookrelay demo"

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
