"""``hookrelay serve`` and ``hookrelay worker`` as a user runs them: settings, warnings, logs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hookrelay.core.routing import Route, Routing, plan_push
from hookrelay.core.tracker_api import TrackerTarget
from hookrelay.core.webhooks import Push, PushedCommit
from hookrelay.queue import State, open_store
from tests.e2e.conftest import SECRET
from tests.e2e.process import hookrelay_serve
from tests.e2e.test_delivery import signed_headers
from tests.support.emulator import running_emulator
from tests.support.waiting import wait_until
from tests.web.conftest import push_body, pushed_commit


def run_hookrelay(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a hookrelay command to completion with ``env`` added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "hookrelay", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HOOKRELAY_TRACKER_URL": "ftp://tracker/services/v5"}, "HOOKRELAY_TRACKER_URL"),
        ({"HOOKRELAY_DATABASE_URL": "mysql://db/x"}, "HOOKRELAY_DATABASE_URL"),
        ({"HOOKRELAY_CONCURRENCY": "0"}, "HOOKRELAY_CONCURRENCY"),
    ],
    ids=["tracker-url", "database-url", "concurrency"],
)
def test_a_bad_setting_stops_start_up_with_one_line(env: dict[str, str], expected: str) -> None:
    """A bad value exits 78 (EX_CONFIG) with one line on stderr naming the setting."""
    result = run_hookrelay("serve", "--port", "0", env=env)
    assert result.returncode == 78
    (line,) = result.stderr.splitlines()
    assert line.startswith("hookrelay: configuration error:")
    assert expected in line


def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    """A port already in use is a one-line error, not a traceback, and nothing is left running."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {"HOOKRELAY_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}"}
        result = run_hookrelay("serve", "--port", str(port), env=env)
    assert result.returncode == 78
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr.splitlines()[-1]


def test_no_token_is_said_plainly_and_hook_urls_with_a_token_still_work(tmp_path: Path) -> None:
    """Without a token serve warns at start; ?token= still delivers, and never reaches a log line."""
    with running_emulator() as tracker:
        project = tracker.create_project("no-token")
        story = tracker.create_story(project, "Token in the URL", "feature")
        config = tmp_path / "hookrelay.toml"
        config.write_text(
            f'tracker_url = "{tracker.v5_url}"\n'
            f'database_url = "sqlite:///{tmp_path / "queue.db"}"\n'
            f"github_secret = {json.dumps(SECRET)}\n"
            "poll_interval = 0.05\n"
            "access_log = true\n",  # the request line is where a URL's token could show
            encoding="utf-8",
        )
        with hookrelay_serve({}, "--config", str(config)) as serve:
            assert serve.logged("no Tracker token is configured")
            body = push_body([pushed_commit("a" * 40, f"[Finishes #{story}] via URL token")])
            answer = httpx.post(
                f"{serve.url}/services/v3/github_commits",
                params={"token": tracker.token},
                content=body,
                headers=signed_headers(body, "X-GitHub-Event"),
            )
            assert answer.status_code == 202
            wait_until(
                lambda: tracker.comments(project, story),
                30,
                "the commit reaching the story",
                every=0.05,
            )
            serve.process.send_signal(signal.SIGTERM)
            assert serve.process.wait(30) == 0
        assert tracker.story(project, story)["current_state"] == "finished"
        logged = json.dumps(serve.lines)
        assert "github_commits?token=[redacted]" in logged
        assert tracker.token not in logged
        assert SECRET not in logged


def test_worker_delivers_what_is_queued_and_stops_on_sigterm(tmp_path: Path) -> None:
    """hookrelay worker alone delivers commits another process queued, then exits 0 on SIGTERM."""
    database_url = f"sqlite:///{tmp_path / 'queue.db'}"
    with running_emulator() as tracker:
        project = tracker.create_project("worker")
        story = tracker.create_story(project, "Worker only", "chore")
        target = TrackerTarget.parse(tracker.v5_url)
        push = Push(
            "github",
            "octo/cat",
            "refs/heads/main",
            "main",
            (PushedCommit("b" * 40, f"[Finishes #{story}] chore", "Ada", "", "", "", "main"),),
        )
        store = open_store(database_url)
        try:
            store.enqueue(
                plan_push(push, Routing(Route(target, tracker.token))).deliveries, now=time.time()
            )
        finally:
            store.close()
        env = {
            "HOOKRELAY_DATABASE_URL": database_url,
            "HOOKRELAY_POLL_INTERVAL": "0.05",
            "HOOKRELAY_LOG_FORMAT": "json",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "hookrelay", "worker"],
            env={**os.environ, **env},
            stderr=subprocess.PIPE,
        )
        try:
            wait_until(
                lambda: tracker.comments(project, story), 30, "the worker delivering", every=0.05
            )
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert process.returncode == 0
        assert b"delivery worker stopped" in stderr
        assert tracker.story(project, story)["current_state"] == "accepted"
        store = open_store(database_url)
        try:
            assert store.counts()[State.DELIVERED] == 1
        finally:
            store.close()


def test_with_no_tracker_configured_a_push_moves_a_demo_story(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no Tracker URL, serve runs the built-in emulator at /emulator: a push finishes a story."""
    monkeypatch.delenv("HOOKRELAY_TRACKER_URL", raising=False)
    monkeypatch.delenv("HOOKRELAY_TRACKER_TOKEN", raising=False)
    env = {
        "HOOKRELAY_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}",
        "HOOKRELAY_POLL_INTERVAL": "0.05",
    }
    with hookrelay_serve(env) as serve:
        assert serve.logged("delivering to the built-in Tracker emulator")
        api = f"{serve.url}/emulator/services/v5"
        auth = {"X-TrackerToken": "hookrelay-demo-token"}
        (project,) = httpx.get(f"{api}/projects", headers=auth).json()
        stories = httpx.get(f"{api}/projects/{project['id']}/stories", headers=auth).json()
        feature = next(s for s in stories if s["story_type"] == "feature")
        body = push_body([pushed_commit("c" * 40, f"[Finishes #{feature['id']}] demo")])
        answer = httpx.post(
            f"{serve.url}/github", content=body, headers=signed_headers(body, "X-GitHub-Event")
        )
        assert answer.status_code == 202
        story_url = f"{api}/projects/{project['id']}/stories/{feature['id']}"
        wait_until(
            lambda: httpx.get(story_url, headers=auth).json()["current_state"] == "finished",
            30,
            "the push finishing the demo story",
            every=0.05,
        )
        (comment,) = httpx.get(f"{story_url}/comments", headers=auth).json()
        assert comment["commit_identifier"] == "c" * 40
