"""What each command loads, and that every command but those reading a git repository runs where
git is not installed (the Docker image): a command imports its heavy dependencies when it runs,
so `parse` and `--version` start as fast as Python does and a hook never waits for the web stack.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest

from hookrelay.queue import open_store

# Run ``main(argv)`` and report, on exit (``--help`` and ``--version`` exit through SystemExit),
# which of the named modules the command loaded.
PROBE = """
import atexit, json, sys
argv, watched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def report():
    loaded = sorted(m for m in watched if m in sys.modules)
    print("LOADED " + json.dumps(loaded), file=sys.stderr)
atexit.register(report)
from hookrelay.cli import main
sys.exit(main(argv))
"""

WEB = ["fastapi", "starlette", "uvicorn", "httpx", "prometheus_client"]
SETTINGS = ["pydantic", "pydantic_settings"]
DRIVERS = ["sqlite3", "psycopg"]
GIT = ["git"]
HOOKS = ["hookrelay.hooks.run", "hookrelay.hooks.installer"]


def _loaded(argv: list[str], watched: list[str], cwd: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(watched)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        # Not measured by coverage either: it imports sqlite3 and more into the process.
        env={k: v for k, v in os.environ.items() if not k.startswith(("HOOKRELAY_", "COVERAGE_"))},
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("LOADED ")]
    assert lines, result.stderr
    loaded: list[str] = json.loads(lines[-1].removeprefix("LOADED "))
    return loaded


@pytest.mark.parametrize(
    ("argv", "must_not_load"),
    [
        (["--version"], [*WEB, *SETTINGS, *DRIVERS, *GIT, *HOOKS]),
        (["--help"], [*WEB, *SETTINGS, *DRIVERS, *GIT, *HOOKS]),
        (["parse", "[Finishes #1]"], [*WEB, *SETTINGS, *DRIVERS, *GIT, *HOOKS, "hookrelay.queue"]),
        (["serve", "--help"], [*WEB, *SETTINGS, *DRIVERS, *GIT, *HOOKS]),
        (["worker", "--help"], [*WEB, *SETTINGS, *DRIVERS, *GIT, *HOOKS]),
        (["emulate", "--help"], [*WEB, *SETTINGS, *DRIVERS, *GIT, *HOOKS]),
        (["hooks", "install", "--help"], [*WEB, *SETTINGS, *DRIVERS, *GIT, *HOOKS]),
        (
            ["deliveries", "list", "--database-url", "sqlite:///q.db"],
            [*WEB, *SETTINGS, *GIT, *HOOKS, "psycopg"],
        ),
    ],
    ids=[
        "version",
        "help",
        "parse",
        "serve-help",
        "worker-help",
        "emulate-help",
        "hooks-help",
        "deliveries-list",
    ],
)
def test_a_command_loads_only_what_it_uses(
    argv: list[str], must_not_load: list[str], tmp_path: Path
) -> None:
    """Declaring the command line loads no dependency; a command loads only what its work needs."""
    open_store(f"sqlite:///{tmp_path / 'q.db'}").close()
    assert _loaded(argv, must_not_load, tmp_path) == []


def test_hook_command_loads_no_web_stack(tmp_path: Path) -> None:
    """Parsing a hook command and loading the hook code imports no FastAPI, uvicorn or psycopg."""
    probe = (
        "import sys\n"
        "from hookrelay.cli import build_parser\n"
        "build_parser('hook').parse_args(['hook', 'git-post-receive'])\n"
        "import hookrelay.hooks.run\n"
        "heavy = ('fastapi', 'uvicorn', 'starlette', 'psycopg', 'pydantic_settings')\n"
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""


# --- the console script where git is not installed ------------------------------------------


@pytest.fixture
def no_git_env(tmp_path: Path) -> dict[str, str]:
    """An environment as the image has it: a PATH with no git on it, no hookrelay settings."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOOKRELAY_", "GIT_PYTHON_"))}
    env.update(
        PATH=str(empty),
        HOME=str(tmp_path),
        HOOKRELAY_DATABASE_URL=f"sqlite:///{tmp_path / 'hookrelay.db'}",
    )
    return env


def _console_script() -> str:
    script = Path(sys.executable).with_name("hookrelay")
    assert script.exists(), f"the console script is not installed next to {sys.executable}"
    return str(script)


def run_script(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed ``hookrelay`` console script to completion."""
    return subprocess.run(
        [_console_script(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


@contextmanager
def running_script(*args: str, env: dict[str, str], cwd: Path) -> Iterator[RunningScript]:
    """Start the console script; stop it with SIGTERM (killed if it does not stop) afterwards."""
    process = subprocess.Popen(
        [_console_script(), *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    running = RunningScript(process)
    reader = threading.Thread(target=_pump, args=(process.stdout, running.lines), daemon=True)
    reader.start()
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        reader.join(5)
        process.stdout.close()


class RunningScript:
    """A running console script and the lines it has written (stdout and stderr together)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The first line matching ``pattern``; fail with every line so far after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        pytest.fail(f"no line matched {pattern!r}: {''.join(self.seen)}")

    def stop(self) -> int:
        """SIGTERM, as ``docker stop`` sends; the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def test_version_and_parse_run_without_git(no_git_env: dict[str, str], tmp_path: Path) -> None:
    """`--version` and `parse` answer with no git on PATH."""
    version = run_script("--version", env=no_git_env, cwd=tmp_path)
    assert (version.returncode, version.stdout.split()[0]) == (0, "hookrelay")
    parsed = run_script("parse", "[Finishes #123]", env=no_git_env, cwd=tmp_path)
    assert (parsed.returncode, parsed.stdout, parsed.stderr) == (0, "123 finish\n", "")


def test_serve_deliveries_and_worker_run_without_git(
    no_git_env: dict[str, str], tmp_path: Path
) -> None:
    """`serve` answers /healthz and its emulator, `deliveries` reads the queue it made, and
    `worker` starts and stops, all with no git on PATH."""
    with running_script("serve", "--port", "0", env=no_git_env, cwd=tmp_path) as serve:
        url = serve.wait_for(r"listening on (http://127\.0\.0\.1:\d+)").group(1)
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        projects = httpx.get(
            f"{url}/emulator/services/v5/projects",
            headers={"X-TrackerToken": "hookrelay-demo-token"},
            timeout=5,
        )
        assert projects.status_code == 200
        assert serve.stop() == 0
    listing = run_script("deliveries", "list", env=no_git_env, cwd=tmp_path)
    assert (listing.returncode, listing.stderr) == (0, "")
    assert listing.stdout.split()[:2] == ["ID", "STATE"]
    with running_script("worker", env=no_git_env, cwd=tmp_path) as worker:
        worker.wait_for("worker delivering from")
        assert worker.stop() == 0


def test_doctor_runs_without_git(no_git_env: dict[str, str], tmp_path: Path) -> None:
    """`doctor` checks a setup with no git on PATH (as in the image): its lines, not a complaint
    about git, since no repository was named."""
    result = run_script("doctor", env=no_git_env, cwd=tmp_path)
    assert result.returncode in {0, 1}, result.stderr
    assert "git is not installed" not in result.stderr
    assert "settings" in result.stdout.lower()


def test_backfill_svn_runs_without_git(no_git_env: dict[str, str], tmp_path: Path) -> None:
    """`backfill svn` reads no git repository, so it needs no git: a folder that is not a
    Subversion repository gets its own one-line error, not one about git."""
    result = run_script("backfill", "svn", str(tmp_path), env=no_git_env, cwd=tmp_path)
    assert result.returncode == 1
    assert "git is not installed" not in result.stderr
    assert str(tmp_path) in result.stderr


def test_emulate_runs_without_git(no_git_env: dict[str, str], tmp_path: Path) -> None:
    """`emulate` serves Tracker's API with no git on PATH."""
    with running_script("emulate", "--port", "0", env=no_git_env, cwd=tmp_path) as emulate:
        url = emulate.wait_for(r"Tracker emulator on (http://\S+)").group(1)
        answer = httpx.get(
            f"{url}/services/v5/projects",
            headers={"X-TrackerToken": "hookrelay-demo-token"},
            timeout=5,
        )
        assert answer.status_code == 200
        assert emulate.stop() == 0


def test_a_command_that_reads_git_says_git_is_missing(
    no_git_env: dict[str, str], tmp_path: Path
) -> None:
    """`hooks install git` with no git on PATH exits 1 with one line saying git is not installed."""
    (tmp_path / "repo").mkdir()
    result = run_script(
        "hooks",
        "install",
        "git",
        str(tmp_path / "repo"),
        "--url",
        "http://127.0.0.1:1/services/v5",
        "--token",
        "t0ken",
        env=no_git_env,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("hookrelay: error: git is not installed")
