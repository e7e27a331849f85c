"""The ``running_emulator`` test helper, as other suites use it."""

from __future__ import annotations

import httpx

from tests.support.emulator import running_emulator


def test_helper_creates_project_and_story_over_http() -> None:
    """The helper's create/read calls reach the running emulator and return Tracker-like IDs."""
    with running_emulator(token="t0k3n") as tracker:
        project = tracker.create_project("Enterprise")
        story = tracker.create_story(project, "Torpedoes", story_type="bug")
        assert story > 100_000_000
        shown = tracker.story(project, story)
        assert (shown["current_state"], shown["story_type"]) == ("unstarted", "bug")
        assert tracker.comments(project, story) == []
        assert tracker.v5_url == f"{tracker.base_url}/services/v5"
        assert tracker.v3_url.endswith("/services/v3")
        assert httpx.get(f"{tracker.v5_url}/projects").status_code == 401
