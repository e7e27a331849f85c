"""``hookrelay emulate`` as a user runs it: a real process, its banner, its port, its data file."""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import Delivered, TrackerTarget
from hookrelay.tracker.client import TrackerClient, make_http_client

TOKEN = "cli-test-token"
_DEADLINE = 20.0


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "hookrelay", "emulate", *args]


def _read_banner(process: subprocess.Popen[bytes]) -> str:
    """Read stdout until the banner's last line, within a deadline."""
    assert process.stdout is not None
    # Raw reads on the descriptor: a buffered reader could hold lines select() cannot see.
    descriptor = process.stdout.fileno()
    output = b""
    deadline = time.monotonic() + _DEADLINE
    while b"/stories/" not in output:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no banner within {_DEADLINE} s: {output!r}"
        ready, _, _ = select.select([descriptor], [], [], remaining)
        if ready:
            chunk = os.read(descriptor, 65536)
            assert chunk, f"emulate exited early ({process.poll()}): {output!r}"
            output += chunk
    return output.decode()


@contextmanager
def running_cli(*args: str) -> Iterator[str]:
    """Run ``hookrelay emulate`` with ``args``; yield its banner; stop it on exit."""
    process = subprocess.Popen(_command(*args), stdout=subprocess.PIPE)
    try:
        yield _read_banner(process)
    finally:
        process.terminate()
        process.wait(_DEADLINE)
        assert process.stdout is not None
        process.stdout.close()


def _ids(banner: str) -> tuple[str, int, dict[str, int]]:
    base_url = re.search(r"Tracker emulator on (\S+)", banner).group(1)  # type: ignore[union-attr]
    project = int(re.search(r"project (\d+)", banner).group(1))  # type: ignore[union-attr]
    stories = {kind: int(sid) for kind, sid in re.findall(r"^\s+(\w+)\s+(\d{9})\s", banner, re.M)}
    return base_url, project, stories


def test_emulate_prints_a_demo_that_works_and_keeps_its_data(tmp_path: Path) -> None:
    """The banner's URL, token and story IDs work with hookrelay's client, and --data persists."""
    data = str(tmp_path / "tracker.db")
    with running_cli("--port", "0", "--token", TOKEN, "--data", data) as banner:
        base_url, project, stories = _ids(banner)
        assert f"token:         {TOKEN}" in banner
        assert set(stories) == {"feature", "bug", "chore", "release"}
        target = TrackerTarget.parse(f"{base_url}/services/v5")
        commit = SourceCommit.of(
            commit_id="c0ffee",
            message=f"[Finishes #{stories['feature']}] Torpedoes powered",
            author="Scotty",
        )
        with make_http_client() as http:
            assert TrackerClient(http, target, TOKEN).post(commit) == Delivered(200)
    with running_cli("--port", "0", "--token", TOKEN, "--data", data) as banner:
        base_url, again, _ = _ids(banner)
        assert again == project
        url = f"{base_url}/services/v5/projects/{project}/stories/{stories['feature']}"
        story = httpx.get(url, headers={"X-TrackerToken": TOKEN}).json()
        assert story["current_state"] == "finished"


def test_emulate_on_a_busy_port_is_a_config_error() -> None:
    """A port already taken stops start-up with exit 78 and one line naming the port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = subprocess.run(
            _command("--port", port), capture_output=True, text=True, timeout=_DEADLINE, check=False
        )
    assert result.returncode == 78
    assert result.stderr.count("\n") == 1
    assert f"127.0.0.1:{port}" in result.stderr


def test_emulate_with_unusable_data_file_is_a_config_error(tmp_path: Path) -> None:
    """A --data path that cannot be a SQLite file stops start-up with exit 78."""
    result = subprocess.run(
        _command("--port", "0", "--data", str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=_DEADLINE,
        check=False,
    )
    assert result.returncode == 78
    assert "--data" in result.stderr
