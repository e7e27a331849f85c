"""Fixtures for the hook tests: a Tracker stand-in on loopback, real repositories, both forms."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hooks.repos import FORMS, GitWorld, SvnWorld
from tests.support.recorder import Recorder, running_recorder


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """A Tracker stand-in that records every request."""
    with running_recorder() as state:
        yield state


@pytest.fixture(params=FORMS)
def form(request: pytest.FixtureRequest) -> str:
    """Each hook test runs against both implementations: the shell script and the Python hook."""
    return str(request.param)


@pytest.fixture
def git_world(tmp_path: Path) -> GitWorld:
    """A bare server repository and a clone pushing to it."""
    return GitWorld(tmp_path)


@pytest.fixture
def svn_world(tmp_path: Path) -> SvnWorld:
    """A Subversion repository and a file:// working copy."""
    if shutil.which("svnadmin") is None:
        pytest.fail("Subversion (svnadmin, svnlook, svn) is not installed; CI installs it")
    return SvnWorld(tmp_path)
