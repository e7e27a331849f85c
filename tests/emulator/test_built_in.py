"""The emulator `serve` runs when no Tracker is configured: on loopback only unless asked, its
world kept beside the queue so the README's demo works again after a restart."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hookrelay.exceptions import ConfigError
from hookrelay.service import emulator_data_path, mounts_emulator
from hookrelay.settings import Settings
from tests.e2e.process import hookrelay_serve
from tests.support.waiting import wait_until
from tests.web.conftest import push_body, pushed_commit

V5 = "https://tracker.example.com/services/v5"
ANY = "0.0.0.0"  # noqa: S104 (naming the wildcard address; these tests never bind to it)


@pytest.mark.parametrize(
    ("given", "mounted"),
    [
        ({"host": "127.0.0.1"}, True),
        ({"host": "127.0.0.2"}, True),
        ({"host": "::1"}, True),
        ({"host": "localhost"}, True),
        ({"host": ANY, "emulator": True}, True),
        ({"host": "127.0.0.1", "tracker_url": V5}, False),
        ({"host": ANY, "tracker_url": V5}, False),
        ({"host": ANY}, "HOOKRELAY_TRACKER_URL"),
        ({"host": "::"}, "HOOKRELAY_TRACKER_URL"),
        ({"host": "relay.example.com"}, "HOOKRELAY_TRACKER_URL"),
        ({"host": "127.0.0.1", "tracker_url": V5, "emulator": True}, "choose one"),
    ],
    ids=[
        "loopback",
        "loopback-other",
        "loopback-v6",
        "localhost",
        "public-asked",
        "tracker-loopback",
        "tracker-public",
        "public-no-tracker",
        "public-v6-no-tracker",
        "hostname-no-tracker",
        "tracker-and-emulator",
    ],
)
def test_the_emulator_is_for_loopback(
    given: dict[str, object], mounted: bool | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mounted with no Tracker on loopback or with --emulator; beyond loopback with no Tracker,
    a ConfigError names HOOKRELAY_TRACKER_URL."""
    for name in ("TRACKER_URL", "EMULATOR", "HOST"):
        monkeypatch.delenv(f"HOOKRELAY_{name}", raising=False)
    settings = Settings(**given)  # type: ignore[arg-type]
    if isinstance(mounted, str):
        with pytest.raises(ConfigError, match=mounted):
            mounts_emulator(settings)
    else:
        assert mounts_emulator(settings) is mounted


@pytest.mark.parametrize(
    ("given", "path"),
    [
        ({"database_url": "sqlite:///./hookrelay.db"}, "hookrelay-emulator.db"),
        ({"database_url": "sqlite:////data/hookrelay.db"}, "/data/hookrelay-emulator.db"),
        ({"database_url": "sqlite:///:memory:"}, None),
        ({"database_url": "postgresql://hookrelay@db/hookrelay"}, "hookrelay-emulator.db"),
        ({"emulator_data": "/srv/tracker.db"}, "/srv/tracker.db"),
    ],
    ids=["default", "data-volume", "memory", "postgresql", "given"],
)
def test_the_emulator_keeps_its_world_beside_the_queue(
    given: dict[str, str], path: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator's file is hookrelay-emulator.db in the SQLite queue's folder, or as set."""
    for name in ("DATABASE_URL", "EMULATOR_DATA"):
        monkeypatch.delenv(f"HOOKRELAY_{name}", raising=False)
    assert emulator_data_path(Settings(**given)) == path  # type: ignore[arg-type]


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKRELAY_")}
    env["HOOKRELAY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'hookrelay.db'}"
    return env


def test_serve_beyond_loopback_with_no_tracker_stops_with_one_line(tmp_path: Path) -> None:
    """`serve --host 0.0.0.0` with no Tracker exits 78 naming HOOKRELAY_TRACKER_URL, and binds
    nothing."""
    result = subprocess.run(
        [sys.executable, "-m", "hookrelay", "serve", "--host", ANY, "--port", "0"],
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 78
    (line,) = result.stderr.splitlines()
    assert line.startswith("hookrelay: configuration error: no Tracker is configured")
    assert "HOOKRELAY_TRACKER_URL" in line
    assert "--emulator" in line


def test_the_readme_demo_works_again_after_a_restart(tmp_path: Path) -> None:
    """After a restart the queue remembers the commit and the story is still finished with its
    one comment; the same push again is a duplicate and adds none (on the same port, as the
    README's demo runs: the emulator's URL is part of what a commit is queued for)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    env = {**_clean_env(tmp_path), "HOOKRELAY_POLL_INTERVAL": "0.05"}
    auth = {"X-TrackerToken": "hookrelay-demo-token"}
    story_path = "/emulator/services/v5/projects/2600001/stories/187000001"
    body = push_body([pushed_commit("c" * 40, "[Finishes #187000001] Torpedoes powered")])
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push"}
    with hookrelay_serve(env, "--port", port) as serve:
        answer = httpx.post(f"{serve.url}/github", content=body, headers=headers, timeout=10)
        assert answer.json()["queued"] == 1
        wait_until(
            lambda: (
                httpx.get(serve.url + story_path, headers=auth).json()["current_state"]
                == "finished"
            ),
            30,
            "the push finishing the demo story",
            every=0.05,
        )
        serve.process.terminate()
        assert serve.process.wait(30) == 0
    assert (tmp_path / "hookrelay-emulator.db").exists()
    with hookrelay_serve(env, "--port", port) as serve:
        story = httpx.get(serve.url + story_path, headers=auth).json()
        assert story["current_state"] == "finished"
        again = httpx.post(f"{serve.url}/github", content=body, headers=headers, timeout=10)
        assert (again.json()["queued"], again.json()["duplicates"]) == (0, 1)
        comments = httpx.get(f"{serve.url}{story_path}/comments", headers=auth).json()
        assert [c["commit_identifier"] for c in comments] == ["c" * 40]
