"""The emulator's v5 ``GET /me``: what a client asks to check a token (``hookrelay doctor``)."""

from __future__ import annotations

import httpx

from tests.support.emulator import running_emulator


def test_me_answers_the_right_token_in_trackers_shape_and_refuses_others() -> None:
    """The accepted token gets Tracker's ``me`` with the projects; another gets 401."""
    with running_emulator(token="me-token") as tracker:
        project = tracker.create_project("rocket")
        mine = httpx.get(f"{tracker.v5_url}/me", headers={"X-TrackerToken": "me-token"})
        assert mine.status_code == 200
        me = mine.json()
        assert me["kind"] == "me"
        assert {"id", "name", "initials", "username", "email"} <= me.keys()
        assert [p["project_id"] for p in me["projects"]] == [project]
        assert "me-token" not in mine.text
        other = httpx.get(f"{tracker.v5_url}/me", headers={"X-TrackerToken": "not-it"})
        assert other.status_code == 401
