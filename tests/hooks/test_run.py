"""The hook driver: what it loads, so that a hook starts fast and runs where it can."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hookrelay.core.source_commit import SourceCommit
from hookrelay.exceptions import RepositoryError
from hookrelay.hooks.run import run_hook
from hookrelay.hooks.settings import HookSettings

PROBE = "import sys; {imports}; print(' '.join(sorted(m for m in {heavy} if m in sys.modules)))"


@pytest.mark.parametrize(
    ("imports", "must_not_load"),
    [
        ("import hookrelay.hooks.run, hookrelay.hooks.svn_reader", ("git", "httpx")),
        ("import hookrelay.cli.hooks", ("git", "httpx")),
        ("import hookrelay.hooks.git_reader", ("httpx",)),
    ],
    ids=["driver-and-svn", "cli", "git-reader"],
)
def test_modules_load_only_what_they_use(imports: str, must_not_load: tuple[str, ...]) -> None:
    """The driver and the svn hook never load GitPython (only a git repository's reader does),
    and httpx is loaded only when a hook posts (a push handed straight to the background never
    pays for it)."""
    probe = PROBE.format(imports=imports, heavy=must_not_load)
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == []


@dataclass
class BrokenRepository:
    """A repository whose listing of new commits fails (a fake ``HookSystem``)."""

    state: Path
    shared: bool = False
    job: str = "post-receive"
    respawn: list[str] = field(default_factory=list)

    def read_settings(self) -> HookSettings:
        """Settings that are fine."""
        return HookSettings.from_values({"url": "https://t.example/services/v3", "token": "t0k3n"})

    def new_commits(self, settings: HookSettings) -> list[str]:
        """Fails, quoting the token as a careless error might."""
        raise RepositoryError(f"git rev-list failed: {settings.token} is not a revision")

    def read(self, commit_id: str, settings: HookSettings) -> SourceCommit | None:
        """Never reached."""
        raise AssertionError(commit_id)


def test_a_failure_to_send_is_told_and_logged_without_the_token(tmp_path: Path) -> None:
    """Whatever fails after the settings are read is one line for the pusher and the same
    line in the hook's log, with the token blanked."""
    state = tmp_path / "hookrelay"
    summary = run_hook(BrokenRepository(state), resend=False)
    line = "nothing sent: RepositoryError: git rev-list failed: [token] is not a revision"
    assert summary == f"hookrelay: {line}"
    assert (state / "hookrelay.log").read_text().rstrip("\n").endswith(f"post-receive {line}")
