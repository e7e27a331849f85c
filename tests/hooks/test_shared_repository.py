"""Repositories shared with a group (git's ``core.sharedRepository``): the hookrelay folder.

In a shared repository every member of the group pushes, so the folder must be writable by the
group (umask 007, folders setgid like git's own); in any other repository it stays private to
the user the hook runs as. Never world-readable. Both forms (the ``form`` fixture).
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.hooks.repos import GitWorld, install
from tests.support.recorder import Recorder

STAY = ("--foreground-seconds", "60")


def mode(path: Path) -> int:
    """The permission bits of ``path``, setgid included."""
    return stat.S_IMODE(path.stat().st_mode)


def push_one(world: GitWorld) -> None:
    world.commit("[#1] one")
    world.push("main")


@pytest.mark.parametrize("setting", ["group", "true", "all", "everybody", "0660", "2"])
def test_shared_repository_gets_a_group_writable_setgid_folder(
    git_world: GitWorld, recorder: Recorder, form: str, setting: str
) -> None:
    """With core.sharedRepository set to share, the folders are 2770, the files 660, and the
    token (which the group's pushes read) 640."""
    git_world.git(git_world.server, "config", "core.sharedRepository", setting)
    install("git", git_world.server, form, f"{recorder.url}/services/v3", *STAY)
    push_one(git_world)
    state = git_world.state()
    assert len(recorder.received) == 1
    for folder in (state, state / "spool", state / "refused"):
        assert mode(folder) == 0o2770, (folder, oct(mode(folder)))
    for file in (state / "hookrelay.log", state / "accounted"):
        assert mode(file) == 0o660, (file, oct(mode(file)))
    assert mode(state / "token") == 0o640


@pytest.mark.parametrize("setting", [None, "umask", "false", "0"])
def test_private_repository_keeps_its_folder_private(
    git_world: GitWorld, recorder: Recorder, form: str, setting: str | None
) -> None:
    """Without sharing, the folders are 0700 and the files (the token too) 0600, as before."""
    if setting is not None:
        git_world.git(git_world.server, "config", "core.sharedRepository", setting)
    install("git", git_world.server, form, f"{recorder.url}/services/v3", *STAY)
    push_one(git_world)
    state = git_world.state()
    assert len(recorder.received) == 1
    for folder in (state, state / "spool", state / "refused"):
        assert mode(folder) == 0o700, (folder, oct(mode(folder)))
    for file in (state / "hookrelay.log", state / "accounted", state / "token"):
        assert mode(file) == 0o600, (file, oct(mode(file)))


def test_private_folder_becomes_shared_when_the_repository_is_shared_later(
    git_world: GitWorld, recorder: Recorder, form: str
) -> None:
    """A folder an earlier, private run made is opened to the group by its owner's next push."""
    install("git", git_world.server, form, f"{recorder.url}/services/v3", *STAY)
    push_one(git_world)
    assert mode(git_world.state()) == 0o700
    git_world.git(git_world.server, "config", "core.sharedRepository", "group")
    push_one(git_world)
    assert mode(git_world.state()) == 0o2770
    assert mode(git_world.state() / "hookrelay.log") == 0o660
    assert mode(git_world.state() / "token") == 0o640
