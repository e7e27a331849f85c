"""``hookrelay hooks install|uninstall`` on real repositories: where hooks go, chaining, refusals."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hookrelay.cli import main
from hookrelay.hooks.installer import FORM_MARKER
from tests.hooks.repos import GitWorld, SvnWorld, install, received_commits
from tests.support.recorder import Recorder

URL = "https://tracker.example.com/services/v5"
STAY = ("--foreground-seconds", "60")
REPOSITORY_ROOT = Path(__file__).parents[2]

# An old hook that records how it was run: its arguments and its standard input.
RECORDING_HOOK = """#!/bin/sh
printf '%s\\n' "$@" > "{out}.args"
cat > "{out}.stdin"
exit 3
"""


def config(world: GitWorld, where: Path, key: str) -> list[str]:
    """Every value of ``hookrelay.<key>`` in the repository's config."""
    return world.git(where, "config", "--get-all", f"hookrelay.{key}").splitlines()


def test_bare_repository_gets_post_receive_and_settings(git_world: GitWorld, form: str) -> None:
    """A bare repository gets an executable post-receive and its settings in git config."""
    install("git", git_world.server, form, URL, "--commit-url", "https://g.example/c/%H#x;y")
    hook = git_world.server / "hooks" / "post-receive"
    assert hook.stat().st_mode & stat.S_IXUSR
    assert f"{FORM_MARKER} {'standalone' if form == 'shell' else 'python'}" in hook.read_text()
    assert config(git_world, git_world.server, "url") == [URL]
    assert (git_world.state() / "token").read_text() == "t0k3n\n"
    assert config(git_world, git_world.server, "commiturl") == ["https://g.example/c/%H#x;y"]


@pytest.mark.parametrize("bare", [True, False], ids=["post-receive", "post-commit"])
def test_standalone_hook_is_the_shipped_script(git_world: GitWorld, bare: bool) -> None:
    """--standalone installs the shipped hooks/git/<hook> byte for byte: the one git script
    that scripts/build-hooks makes from hooks/src (test_shell_scripts checks that build)."""
    repo, hooks = (
        (git_world.server, git_world.server / "hooks")
        if bare
        else (git_world.clone, git_world.clone / ".git" / "hooks")
    )
    install("git", repo, "shell", URL)
    name = "post-receive" if bare else "post-commit"
    shipped = REPOSITORY_ROOT / "hooks" / "git" / name
    assert (hooks / name).read_bytes() == shipped.read_bytes()
    assert shipped.read_bytes() == (REPOSITORY_ROOT / "hooks" / "git" / "post-receive").read_bytes()


def test_working_copy_gets_post_commit(git_world: GitWorld, form: str) -> None:
    """A repository with a working tree gets post-commit, in .git/hooks."""
    install("git", git_world.clone, form, URL)
    assert (git_world.clone / ".git" / "hooks" / "post-commit").is_file()
    assert not (git_world.clone / ".git" / "hooks" / "post-receive").exists()


@pytest.mark.parametrize("hooks_path", ["custom-hooks", "ABSOLUTE"], ids=["relative", "absolute"])
def test_core_hooks_path_is_honoured(git_world: GitWorld, tmp_path: Path, hooks_path: str) -> None:
    """With core.hooksPath set, the hook goes there (relative to the working tree, or absolute)."""
    value = str(tmp_path / "shared-hooks") if hooks_path == "ABSOLUTE" else hooks_path
    git_world.git(git_world.clone, "config", "core.hooksPath", value)
    install("git", git_world.clone, "python", URL)
    folder = Path(value) if hooks_path == "ABSOLUTE" else git_world.clone / value
    assert (folder / "post-commit").is_file()
    assert not (git_world.clone / ".git" / "hooks" / "post-commit").exists()


def test_install_is_idempotent(git_world: GitWorld, form: str) -> None:
    """Installing twice leaves one hook, no chain of itself, and one value a setting."""
    install("git", git_world.server, form, URL)
    hooks = git_world.server / "hooks"
    first = (hooks / "post-receive").read_bytes()
    install("git", git_world.server, form, URL, token="n3w")
    assert (hooks / "post-receive").read_bytes() == first
    assert not (hooks / "post-receive.before-hookrelay").exists()
    assert (git_world.state() / "token").read_text() == "n3w\n"
    assert config(git_world, git_world.server, "url") == [URL]


def test_existing_git_hook_is_chained_with_same_stdin(
    git_world: GitWorld, recorder: Recorder, form: str
) -> None:
    """A post-receive already there still runs, with the push's ref lines on its stdin."""
    hooks = git_world.server / "hooks"
    out = git_world.root / "old-hook"
    (hooks / "post-receive").write_text(RECORDING_HOOK.format(out=out))
    (hooks / "post-receive").chmod(0o755)
    install("git", git_world.server, form, f"{recorder.url}/services/v3")
    assert (hooks / "post-receive.before-hookrelay").is_file()
    commit = git_world.commit("[#7] chained")
    git_world.push("main", "main:refs/heads/other")
    stdin = Path(f"{out}.stdin").read_text().splitlines()
    assert sorted(stdin) == sorted(
        [f"{'0' * 40} {commit} refs/heads/main", f"{'0' * 40} {commit} refs/heads/other"]
    )
    assert Path(f"{out}.args").read_text() == "\n"
    assert [c.commit_id for c in received_commits(recorder)] == [commit]


@pytest.mark.svn
def test_existing_svn_hook_is_chained_with_same_arguments(
    svn_world: SvnWorld, recorder: Recorder, form: str
) -> None:
    """An svn post-commit already there still runs with REPOS REV TXN, and its status stands."""
    hooks = svn_world.repository / "hooks"
    out = svn_world.root / "old-hook"
    (hooks / "post-commit").write_text(RECORDING_HOOK.format(out=out))
    (hooks / "post-commit").chmod(0o755)
    install("svn", svn_world.repository, form, f"{recorder.url}/services/v3")
    result = svn_world.run(["svn", "commit", "-m", "[#8] chained"], svn_world.checkout)
    args = Path(f"{out}.args").read_text().splitlines()
    assert args[:2] == [str(svn_world.repository), "1"]
    said = result.stdout.decode() + result.stderr.decode()
    assert "post-commit hook failed (exit code 3)" in said  # the old hook's status stands
    assert [c.commit_id for c in received_commits(recorder)] == ["1"]


def test_uninstall_puts_the_old_hook_back_and_removes_settings(git_world: GitWorld) -> None:
    """Uninstalling removes hookrelay's hook and settings and restores the chained hook."""
    hooks = git_world.server / "hooks"
    (hooks / "post-receive").write_text("#!/bin/sh\necho old\n")
    install("git", git_world.server, "python", URL)
    assert main(["hooks", "uninstall", "git", str(git_world.server)]) == 0
    assert (hooks / "post-receive").read_text() == "#!/bin/sh\necho old\n"
    assert not (hooks / "post-receive.before-hookrelay").exists()
    assert "hookrelay" not in (git_world.server / "config").read_text()


@pytest.mark.svn
def test_svn_install_writes_a_private_conf(svn_world: SvnWorld, form: str) -> None:
    """svn settings go to conf/hookrelay.conf, readable by its owner only; uninstall removes it."""
    install("svn", svn_world.repository, form, URL, "--commit-url", "https://s.example/r%H")
    conf = svn_world.repository / "conf" / "hookrelay.conf"
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    lines = conf.read_text().splitlines()
    assert f"url = {URL}" in lines
    assert "token = t0k3n" in lines
    assert "commiturl = https://s.example/r%H" in lines
    assert (svn_world.repository / "hooks" / "post-commit").stat().st_mode & stat.S_IXUSR
    assert main(["hooks", "uninstall", "svn", str(svn_world.repository)]) == 0
    assert not conf.exists()
    assert not (svn_world.repository / "hooks" / "post-commit").exists()


@pytest.mark.parametrize("kind", ["git", "svn"], ids=["git", "svn"])
def test_refuses_a_folder_that_is_not_a_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """A plain folder is refused with exit 1 and one line saying what it is not."""
    argv = ["hooks", "install", kind, str(tmp_path), "--url", URL, "--token", "t"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{tmp_path} is not a {'git' if kind == 'git' else 'Subversion'} repository" in err
    assert not (tmp_path / "hooks").exists()


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("https://tracker.example.com/api", "t"),
        ("ftp://x/services/v5", "t"),
        (URL, "two words"),
        (URL, "tökén"),
        (URL, "tab\there"),
    ],
    ids=["no-version", "not-http", "bad-token", "non-ascii-token", "control-in-token"],
)
def test_bad_arguments_exit_2(
    git_world: GitWorld, capsys: pytest.CaptureFixture[str], url: str, token: str
) -> None:
    """A URL naming no API version or a token a header cannot carry is a usage error (exit 2)."""
    argv = ["hooks", "install", "git", str(git_world.server), "--url", url, "--token", token]
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("hookrelay: error: ")
    assert not (git_world.server / "hooks" / "post-receive").exists()


def test_git_token_is_kept_in_a_private_file_not_in_the_config(
    git_world: GitWorld, form: str
) -> None:
    """The token goes to hookrelay/token (0600) in the git folder; the 0644 config never has it."""
    install("git", git_world.server, form, URL, token="pr1vate")
    token = git_world.state() / "token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert token.read_text() == "pr1vate\n"
    assert "pr1vate" not in (git_world.server / "config").read_text()


def test_an_older_installs_token_in_config_is_read_then_moved_by_the_next_install(
    git_world: GitWorld, recorder: Recorder, form: str
) -> None:
    """A repository set up before the token file (token in ``hookrelay.token``) still relays
    with it; installing again moves the token to the file and out of the config."""
    install("git", git_world.server, form, f"{recorder.url}/services/v3", *STAY)
    (git_world.state() / "token").unlink()
    git_world.git(git_world.server, "config", "hookrelay.token", "0ld-t0k3n")
    git_world.commit("[#1] with the old token")
    git_world.push("main")
    assert [r.headers["X-TrackerToken"] for r in recorder.received] == ["0ld-t0k3n"]
    install("git", git_world.server, form, f"{recorder.url}/services/v3", *STAY, token="n3w")
    assert "0ld-t0k3n" not in (git_world.server / "config").read_text()
    assert (git_world.state() / "token").read_text() == "n3w\n"
    git_world.commit("[#2] with the new token")
    git_world.push("main")
    assert [r.headers["X-TrackerToken"] for r in recorder.received] == ["0ld-t0k3n", "n3w"]


def test_uninstall_removes_the_token_file(git_world: GitWorld) -> None:
    """Uninstalling takes the token away with the settings (the spool and log stay)."""
    install("git", git_world.server, "python", URL)
    assert main(["hooks", "uninstall", "git", str(git_world.server)]) == 0
    assert not (git_world.state() / "token").exists()
    assert git_world.state().is_dir()


@pytest.mark.parametrize("token", ["tökén", "two words"], ids=["non-ascii", "space"])
def test_a_token_the_header_cannot_carry_is_refused_by_the_hook_too(
    git_world: GitWorld, recorder: Recorder, form: str, token: str
) -> None:
    """A token set by hand that Tracker's header cannot carry: the push goes through, says
    why nothing was sent, and the hook's log says it too (without the token)."""
    install("git", git_world.server, form, f"{recorder.url}/services/v3", *STAY)
    (git_world.state() / "token").write_text(f"{token}\n", encoding="utf-8")
    git_world.commit("[#1] bad token")
    said = git_world.push("main")
    assert "nothing sent: the token must be visible ASCII" in said
    log = (git_world.state() / "hookrelay.log").read_text(encoding="utf-8")
    assert "nothing sent: the token must be visible ASCII" in log
    assert token not in log
    assert recorder.received == []
