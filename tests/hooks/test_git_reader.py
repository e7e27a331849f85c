"""Reading a git repository's hook settings: one ``git config`` process, the token file first."""

from __future__ import annotations

import pytest

from hookrelay.exceptions import ConfigError
from hookrelay.hooks.git_reader import GitSystem, open_repository, read_config
from tests.hooks.repos import GitWorld

URL = "https://tracker.example.com/services/v3"


def test_config_is_read_in_one_pass(git_world: GitWorld) -> None:
    """``hookrelay.*`` and core.sharedRepository come back lower-cased, the last value of a
    repeated key winning (as ``--get``), a bare key read as true; other sections are left out."""
    server = git_world.server
    for key, value in [
        ("hookrelay.url", "https://old.example.com/services/v5"),
        ("hookrelay.url", URL),
        ("hookrelay.commitUrl", "https://g.example/c/%H"),
        ("core.sharedRepository", "group"),
        ("user.name", "Not Hookrelay"),
    ]:
        git_world.git(server, "config", "--add", key, value)
    with (server / "config").open("a") as config:
        config.write("[hookrelay]\n\tallcommits\n")
    with open_repository(server) as repo:
        assert read_config(repo) == {
            "hookrelay.url": URL,
            "hookrelay.commiturl": "https://g.example/c/%H",
            "hookrelay.allcommits": "true",
            "core.sharedrepository": "group",
        }


def test_nothing_set_reads_as_empty(git_world: GitWorld) -> None:
    """A repository without hookrelay settings reads as no values, not as an error."""
    with open_repository(git_world.server) as repo:
        assert read_config(repo) == {}


@pytest.mark.parametrize(
    ("in_file", "in_config", "want"),
    [("fr0m-file", "fr0m-config", "fr0m-file"), (None, "fr0m-config", "fr0m-config")],
    ids=["file-wins", "config-of-an-older-install"],
)
def test_token_is_read_from_its_file_first(
    git_world: GitWorld, in_file: str | None, in_config: str, want: str
) -> None:
    """The token file wins over ``hookrelay.token``, which only an older install left."""
    git_world.git(git_world.server, "config", "hookrelay.url", URL)
    git_world.git(git_world.server, "config", "hookrelay.token", in_config)
    if in_file is not None:
        (git_world.state()).mkdir()
        (git_world.state() / "token").write_text(f"{in_file}\n")
    system = GitSystem("post-receive", path=git_world.server)
    try:
        assert system.read_settings().token == want
    finally:
        system.close()


def test_a_bad_token_in_the_file_is_a_config_error(git_world: GitWorld) -> None:
    """The token rule applies to the file as to the install: the message never repeats it."""
    git_world.git(git_world.server, "config", "hookrelay.url", URL)
    git_world.state().mkdir()
    (git_world.state() / "token").write_text("tökén\n", encoding="utf-8")
    system = GitSystem("post-receive", path=git_world.server)
    try:
        with pytest.raises(ConfigError, match="visible ASCII") as caught:
            system.read_settings()
        assert "tökén" not in str(caught.value)
    finally:
        system.close()
