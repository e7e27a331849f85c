"""The Tracker emulator, running for real on loopback, for any test that needs Tracker.

``running_emulator()`` starts ``hookrelay.emulator`` with uvicorn on 127.0.0.1 (a free port, in a
background thread), waits until it answers, and yields a ``RunningEmulator`` whose helpers talk
to it over real HTTP, as any Tracker client would::

    with running_emulator(token="t0k3n") as tracker:
        project = tracker.create_project("demo")
        story = tracker.create_story(project, "Torpedoes", story_type="feature")
        ...  # post to tracker.v5_url / tracker.v3_url with X-TrackerToken: t0k3n
        assert tracker.story(project, story)["current_state"] == "finished"
        assert tracker.comments(project, story)[0]["commit_identifier"] == "abc123"

The API of this module is stable: other test suites depend on it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from hookrelay.emulator.app import create_app
from hookrelay.emulator.world import World
from tests.support.waiting import wait_until_started

__all__ = ["RunningEmulator", "running_emulator"]

_START_DEADLINE = 10.0


@dataclass
class RunningEmulator:
    """A running emulator: its URLs, its token, and helpers that use its v5 API over HTTP."""

    base_url: str
    token: str
    world: World
    http: httpx.Client

    @property
    def v3_url(self) -> str:
        """Tracker API v3 base URL (``…/services/v3``)."""
        return f"{self.base_url}/services/v3"

    @property
    def v5_url(self) -> str:
        """Tracker API v5 base URL (``…/services/v5``)."""
        return f"{self.base_url}/services/v5"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(
            method,
            f"{self.v5_url}{path}",
            json=body,
            headers={"X-TrackerToken": self.token},
        )
        response.raise_for_status()
        return response.json()

    def create_project(self, name: str) -> int:
        """Create a project; return its ID."""
        return int(self._call("POST", "/projects", {"name": name})["id"])

    def create_story(self, project_id: int, name: str, story_type: str = "feature") -> int:
        """Create an unstarted story (feature, bug, chore or release); return its ID."""
        body = {"name": name, "story_type": story_type}
        return int(self._call("POST", f"/projects/{project_id}/stories", body)["id"])

    def story(self, project_id: int, story_id: int) -> dict[str, Any]:
        """The story as v5 JSON (``current_state``, ``story_type``, ``name``, …)."""
        story: dict[str, Any] = self._call("GET", f"/projects/{project_id}/stories/{story_id}")
        return story

    def comments(self, project_id: int, story_id: int) -> list[dict[str, Any]]:
        """The story's comments as v5 JSON, oldest first (``text``, ``commit_identifier``, …)."""
        comments: list[dict[str, Any]] = self._call(
            "GET", f"/projects/{project_id}/stories/{story_id}/comments"
        )
        return comments


@contextmanager
def running_emulator(
    token: str = "emulator-test-token",  # noqa: S107 (a test token, guarding nothing)
    data_path: str | Path | None = None,
    **limits: int,
) -> Iterator[RunningEmulator]:
    """Run the emulator on 127.0.0.1 (free port) accepting ``token``; stop it on exit.

    With ``data_path`` the emulator keeps its world in that SQLite file, so a second emulator
    started on the same file sees the same projects, stories and comments. ``limits`` are
    ``max_projects``, ``max_stories`` (the world's) and ``max_body_bytes`` (the app's).
    """
    body_limit = {k: v for k, v in limits.items() if k == "max_body_bytes"}
    world = World.open(data_path, **{k: v for k, v in limits.items() if k != "max_body_bytes"})
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every answer waits ~40 ms on Nagle and delayed ACKs.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        create_app(world, token, **body_limit),
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        wait_until_started(server, thread, _START_DEADLINE, "the emulator starting")
        with httpx.Client(timeout=10.0) as http:
            yield RunningEmulator(f"http://127.0.0.1:{port}", token, world, http)
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()
        world.close()
