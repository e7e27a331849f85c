"""``hookrelay doctor``: a good setup passes every check (exit 0); each broken part is one ✗
line naming the fix (exit 1). Real Tracker emulator, real queue, real git repositories."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hookrelay.cli import main
from hookrelay.core.tracker_api import token_fingerprint
from hookrelay.queue import open_store
from hookrelay.queue.store import InboxPush
from tests.hooks.repos import GitWorld, install
from tests.queue.test_store_contract import lease_one, new_delivery
from tests.support.emulator import RunningEmulator, running_emulator

TOKEN = "doctor-tracker-token"
ADMIN = "doctor-admin-token"


@pytest.fixture
def tracker() -> Iterator[RunningEmulator]:
    """The Tracker emulator, accepting TOKEN."""
    with running_emulator(token=TOKEN) as emulator:
        yield emulator


@pytest.fixture
def world(tmp_path: Path) -> GitWorld:
    """A bare repository (and a clone)."""
    (tmp_path / "git").mkdir()
    return GitWorld(tmp_path / "git")


@pytest.fixture
def good_setup(
    tmp_path: Path, tracker: RunningEmulator, world: GitWorld, monkeypatch: pytest.MonkeyPatch
) -> GitWorld:
    """Settings that work: a queue, the emulator and its token, an admin token, a hooked repo."""
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    open_store(url).close()
    for name, value in {
        "DATABASE_URL": url,
        "TRACKER_URL": tracker.v5_url,
        "TRACKER_TOKEN": TOKEN,
        "ADMIN_TOKEN": ADMIN,
        "HOST": "127.0.0.1",
    }.items():
        monkeypatch.setenv(f"HOOKRELAY_{name}", value)
    monkeypatch.delenv("HOOKRELAY_GITHUB_SECRET", raising=False)
    install("git", world.server, "python", tracker.v5_url, token=TOKEN)
    return world


def doctor(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    """Run ``hookrelay doctor``; its exit status and output lines."""
    code = main(["doctor", *argv])
    out, err = capsys.readouterr()
    assert err == ""
    return code, out.splitlines()


def test_a_good_setup_passes_every_check(
    good_setup: GitWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every line is ✓, the token appears only as its fingerprint, and the exit status is 0."""
    code, lines = doctor(capsys, str(good_setup.server))
    assert code == 0, lines
    assert all(line.startswith("✓ ") for line in lines)
    assert len(lines) == 8
    assert any(f"accepts token {token_fingerprint(TOKEN)}" in line for line in lines)
    assert lines[-1].startswith(f"✓ {good_setup.server}: post-receive installed, executable")
    assert TOKEN not in "\n".join(lines)
    assert ADMIN not in "\n".join(lines)


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/services/v5"


def _bad_token(monkeypatch: pytest.MonkeyPatch, world: GitWorld) -> None:
    monkeypatch.setenv("HOOKRELAY_TRACKER_TOKEN", "a-token-tracker-refuses")


def _unreachable(monkeypatch: pytest.MonkeyPatch, world: GitWorld) -> None:
    url = _closed_port_url()
    monkeypatch.setenv("HOOKRELAY_TRACKER_URL", url)
    install("git", world.server, "python", url, token=TOKEN)  # the hook follows the settings


def _missing_hook(monkeypatch: pytest.MonkeyPatch, world: GitWorld) -> None:
    assert main(["hooks", "uninstall", "git", str(world.server)]) == 0


def _not_executable(monkeypatch: pytest.MonkeyPatch, world: GitWorld) -> None:
    (world.server / "hooks" / "post-receive").chmod(0o644)


def _elsewhere(monkeypatch: pytest.MonkeyPatch, world: GitWorld) -> None:
    world.git(world.server, "config", "hookrelay.url", "https://old.example.com/services/v5")


def _open_to_the_world(monkeypatch: pytest.MonkeyPatch, world: GitWorld) -> None:
    monkeypatch.setenv("HOOKRELAY_HOST", "0.0.0.0")  # noqa: S104 - a setting, nothing binds


def _no_admin(monkeypatch: pytest.MonkeyPatch, world: GitWorld) -> None:
    monkeypatch.delenv("HOOKRELAY_ADMIN_TOKEN")


def _guessable_admin(monkeypatch: pytest.MonkeyPatch, world: GitWorld) -> None:
    monkeypatch.setenv("HOOKRELAY_ADMIN_TOKEN", "admin")


def _dead_letter(monkeypatch: pytest.MonkeyPatch, world: GitWorld) -> None:
    store = open_store(os.environ["HOOKRELAY_DATABASE_URL"])
    store.enqueue([new_delivery(1)], now=1.0)
    store.mark_dead(lease_one(store, now=2.0), now=3.0, error="HTTP 401: Access Denied.")
    store.close()


def _stuck_push(monkeypatch: pytest.MonkeyPatch, world: GitWorld) -> None:
    store = open_store(os.environ["HOOKRELAY_DATABASE_URL"])
    store.accept([InboxPush(b"kept", None)], now=time.time() - 120)
    store.close()


def _bad_setting(monkeypatch: pytest.MonkeyPatch, world: GitWorld) -> None:
    monkeypatch.setenv("HOOKRELAY_TRACKER_URL", "https://tracker.example.com/no-version")


@pytest.mark.parametrize(
    ("breakage", "failed", "fix"),
    [
        (
            _bad_token,
            "refuses token " + token_fingerprint("a-token-tracker-refuses"),
            "HOOKRELAY_TRACKER_TOKEN",
        ),
        (_unreachable, "Tracker reachable at", "HOOKRELAY_TRACKER_URL"),
        (_missing_hook, "no hook at", "hookrelay hooks install git"),
        (_not_executable, "is not executable", "chmod +x"),
        (
            _elsewhere,
            "the hook posts to https://old.example.com/services/v5",
            "--url http://127.0.0.1",
        ),
        (_open_to_the_world, "serve listens on 0.0.0.0", "HOOKRELAY_GITHUB_SECRET"),
        (_no_admin, "admin token set", "HOOKRELAY_ADMIN_TOKEN"),
        (_guessable_admin, "admin token strong: it is 5 characters", "HOOKRELAY_ADMIN_TOKEN"),
        (_dead_letter, "1 dead letter in the queue", "retry --dead"),
        (_stuck_push, "1 push in the inbox, the oldest kept 120 s ago", "hookrelay worker"),
        (_bad_setting, "settings load", "correct the setting"),
    ],
    ids=[
        "bad-token",
        "unreachable-tracker",
        "missing-hook",
        "hook-not-executable",
        "hook-posts-elsewhere",
        "no-secret-beyond-loopback",
        "no-admin-token",
        "guessable-admin-token",
        "dead-letters",
        "push-stuck-in-the-inbox",
        "bad-setting",
    ],
)
def test_each_failure_is_one_line_with_its_fix(
    good_setup: GitWorld,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    breakage: Callable[[pytest.MonkeyPatch, GitWorld], None],
    failed: str,
    fix: str,
) -> None:
    """Break one thing: exactly one ✗ line, naming what failed and the fix; exit 1."""
    breakage(monkeypatch, good_setup)
    code, lines = doctor(capsys, str(good_setup.server))
    assert code == 1
    failures = [line for line in lines if line.startswith("✗ ")]
    assert len(failures) == 1, lines
    assert failed in failures[0]
    assert fix in failures[0].split(" — fix: ")[1]
    assert "a-token-tracker-refuses" not in "\n".join(lines)


@pytest.mark.parametrize(
    ("host", "emulator", "passes"),
    [
        ("127.0.0.1", "false", True),
        ("0.0.0.0", "false", False),  # noqa: S104 - a setting, nothing binds
        ("0.0.0.0", "true", True),  # noqa: S104 - a setting, nothing binds
    ],
    ids=["loopback-emulator", "beyond-loopback-stops", "beyond-loopback-asked-for-emulator"],
)
def test_no_tracker_passes_only_where_serve_would_start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    host: str,
    emulator: str,
    passes: bool,
) -> None:
    """With no Tracker configured, serve delivers to its emulator on loopback (or when asked
    with --emulator) and stops with exit 78 beyond it: the Tracker line says which."""
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    open_store(url).close()
    for name in ("TRACKER_URL", "TRACKER_TOKEN"):
        monkeypatch.delenv(f"HOOKRELAY_{name}", raising=False)
    for name, value in {
        "DATABASE_URL": url,
        "HOST": host,
        "EMULATOR": emulator,
        "GITHUB_SECRET": "doctor-secret",
        "ADMIN_TOKEN": ADMIN,
    }.items():
        monkeypatch.setenv(f"HOOKRELAY_{name}", value)
    code, lines = doctor(capsys)
    (tracker_line,) = [line for line in lines if "Tracker" in line]
    assert (code == 0, tracker_line.startswith("✓ ")) == (passes, passes), lines
    if not passes:
        assert "exit 78" in tracker_line
        assert "HOOKRELAY_TRACKER_URL" in tracker_line.split(" — fix: ")[1]
