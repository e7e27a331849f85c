"""The hook driver: what it loads, so that a hook starts fast and runs where it can."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
