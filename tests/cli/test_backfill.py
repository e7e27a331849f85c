"""``hookrelay backfill``: real git and Subversion histories queued into a real SQLite queue, and
delivered to the Tracker emulator by a real relay.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookrelay.cli import main
from hookrelay.queue import QueueStore, State, open_store
from tests.e2e.conftest import running_relay
from tests.hooks.repos import FORMS, GitWorld, SvnWorld, install
from tests.support.emulator import RunningEmulator, running_emulator

TOKEN = "backfill-tracker-token"


@pytest.fixture
def tracker() -> Iterator[RunningEmulator]:
    """The Tracker emulator, accepting the token the settings hold."""
    with running_emulator(token=TOKEN) as emulator:
        yield emulator


@pytest.fixture
def queue_url(
    tmp_path: Path, tracker: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The settings serve would read: a SQLite queue, the emulator as Tracker, its token."""
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    monkeypatch.setenv("HOOKRELAY_DATABASE_URL", url)
    monkeypatch.setenv("HOOKRELAY_TRACKER_URL", tracker.v5_url)
    monkeypatch.setenv("HOOKRELAY_TRACKER_TOKEN", TOKEN)
    monkeypatch.delenv("HOOKRELAY_BRANCHES", raising=False)
    return url


def queued(url: str) -> list[str]:
    """The commit ids in the queue, oldest first."""
    store: QueueStore = open_store(url)
    try:
        return [d.commit_id for d in reversed(store.list(limit=1000))]
    finally:
        store.close()


def backfill(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``hookrelay backfill …``; its exit status, stdout and stderr."""
    code = main(["backfill", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def git_world(tmp_path: Path) -> GitWorld:
    """A bare server repository and a clone pushing to it."""
    (tmp_path / "git").mkdir()
    return GitWorld(tmp_path / "git")


@pytest.fixture
def svn_world(tmp_path: Path) -> SvnWorld:
    """A Subversion repository and a file:// working copy."""
    if shutil.which("svnadmin") is None:
        pytest.fail("Subversion (svnadmin, svnlook, svn) is not installed; CI installs it")
    (tmp_path / "svn").mkdir()
    return SvnWorld(tmp_path / "svn")


def test_git_history_is_queued_once_story_commits_only(
    git_world: GitWorld, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first run queues exactly the story commits of every branch (each once), the second
    queues none, and with output not a terminal there is no progress bar, only plain lines."""
    first = git_world.commit("[#101] first story commit")
    git_world.commit("no story here")
    second = git_world.commit("[Finishes #102] second")
    git_world.git(git_world.clone, "checkout", "-q", "-b", "feature")
    third = git_world.commit("[#103] on a feature branch")
    git_world.push("main", "feature")

    code, out, err = backfill(capsys, "git", str(git_world.server), "--repository", "octo/ship")
    assert code == 0, err
    assert queued(queue_url) == [first, second, third]
    assert out.startswith("4 commits read: queued 3, 0 already queued or delivered, 0 sent")
    # Plain lines: the progress, then (no serve has run here) where the new queue is.
    progress, made = err.splitlines()
    assert progress == "read 4 of 4 commits"
    assert made.startswith(f"(made a new queue at {queue_url.removeprefix('sqlite:///')}: ")
    assert "\r" not in err
    assert "it/s" not in err

    code, out, _ = backfill(capsys, "git", str(git_world.server), "--repository", "octo/ship")
    assert code == 0
    assert "queued 0, 3 already queued or delivered" in out
    assert len(queued(queue_url)) == 3


def test_a_queue_no_serve_has_made_is_named_when_backfill_makes_it(
    git_world: GitWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run where no serve has made a queue, backfill makes one and says where, so commits do
    not wait unseen in a file no relay reads; a second run, on that queue, says nothing more."""
    monkeypatch.delenv("HOOKRELAY_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    git_world.commit("[#101] a story commit")
    git_world.push("main")
    code, _, err = backfill(capsys, "git", str(git_world.server))
    assert code == 0
    assert "(made a new queue at ./hookrelay.db: its commits wait there until serve" in err
    assert (tmp_path / "hookrelay.db").exists()
    code, _, err = backfill(capsys, "git", str(git_world.server))
    assert code == 0
    assert "made a new queue" not in err


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--branch", "main"], [0, 1]),
        (["--branch", "feat*"], [0, 1, 2]),
        (["--since", "BASE"], [1, 2]),
    ],
    ids=["one-branch", "glob-branch-with-history", "since-a-revision"],
)
def test_git_branches_and_since_choose_the_history(
    git_world: GitWorld,
    queue_url: str,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    expected: list[int],
) -> None:
    """--branch globs pick the branches read (with their whole history); --since REV leaves out
    what REV reaches; --dry-run prints what would be queued and queues nothing."""
    commits = [git_world.commit("[#201] one")]
    commits.append(git_world.commit("[#202] two"))
    git_world.git(git_world.clone, "checkout", "-q", "-b", "feature")
    commits.append(git_world.commit("[#203] three"))
    git_world.push("main", "feature")
    argv = [option.replace("BASE", commits[0]) for option in options]

    code, out, _ = backfill(capsys, "git", str(git_world.server), *argv, "--dry-run")
    assert code == 0
    assert [line.split()[2] for line in out.splitlines()[:-1]] == [
        commits[i][:12] for i in expected
    ]
    assert not Path(queue_url.removeprefix("sqlite:///")).exists()

    assert backfill(capsys, "git", str(git_world.server), *argv)[0] == 0
    assert queued(queue_url) == [commits[i] for i in expected]


@pytest.mark.parametrize("form", FORMS)
def test_a_hooked_git_repository_sends_only_what_the_hook_did_not(
    git_world: GitWorld,
    queue_url: str,
    tracker: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    form: str,
) -> None:
    """Commits pushed before the hook was installed are queued; those the hook sent (either
    form of it) are not."""
    before = git_world.commit("[#301] pushed before the hook")
    git_world.push("main")
    install("git", git_world.server, form, tracker.v5_url, token=TOKEN)
    sent = git_world.commit("[#302] the hook sends this one")
    git_world.push("main")
    assert f"sent {sent}" in (git_world.state() / "hookrelay.log").read_text()

    code, out, _ = backfill(capsys, "git", str(git_world.server))
    assert code == 0
    assert queued(queue_url) == [before]
    assert "1 sent by the repository's hook" in out


@pytest.mark.parametrize("form", FORMS)
def test_svn_history_is_queued_once_and_a_hooked_revision_is_not(
    svn_world: SvnWorld,
    queue_url: str,
    tracker: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    form: str,
) -> None:
    """Every story revision once (a range with -r), none on the second run, and not the one
    the repository's hook sent."""
    svn_world.commit("[#401] one")
    svn_world.commit("no story")
    svn_world.commit("[#402] three")
    install("svn", svn_world.repository, form, tracker.v5_url, token=TOKEN)
    hooked = svn_world.commit("[#403] the hook sends this one")
    assert f"sent {hooked}" in (svn_world.state() / "hookrelay.log").read_text()
    repo = str(svn_world.repository)

    assert backfill(capsys, "svn", repo, "-r", "2:3")[0] == 0
    assert queued(queue_url) == ["3"]
    code, out, _ = backfill(capsys, "svn", repo)
    assert code == 0
    assert queued(queue_url) == ["3", "1"]
    assert "4 commits read: queued 1, 1 already queued or delivered, 1 sent" in out
    assert "queued 0, 2 already queued" in backfill(capsys, "svn", repo)[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["git", "NOT_A_REPO"], "is not a git repository"),
        (["svn", "NOT_A_REPO"], "is not a Subversion repository"),
        (["git", "REPO", "--since", "no-such-thing"], "neither a revision nor a date"),
        (["svn", "SVN", "-r", "1:x"], "'x' is not a revision number"),
    ],
    ids=["not-git", "not-svn", "bad-since", "bad-range"],
)
def test_bad_arguments_are_one_line_naming_them(
    git_world: GitWorld,
    svn_world: SvnWorld,
    tmp_path: Path,
    queue_url: str,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    """A folder that is not a repository exits 1, a bad --since or -r exits 2, each one line."""
    git_world.commit("[#1] something")
    replaced = {"NOT_A_REPO": str(tmp_path), "REPO": str(git_world.clone)}
    replaced["SVN"] = str(svn_world.repository)
    code, _, err = backfill(capsys, *[replaced.get(a, a) for a in argv])
    assert code in (1, 2)
    assert message in err
    assert err.count("\n") == 1


def test_wait_reports_what_the_relay_delivered(
    git_world: GitWorld,
    queue_url: str,
    tracker: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With a relay running on the queue, --wait waits for delivery and reports it; the stories
    get their comments."""
    project = tracker.create_project("ship")
    stories = [tracker.create_story(project, f"story {n}") for n in range(2)]
    commits = [git_world.commit(f"[#{story}] work on it") for story in stories]
    git_world.push("main")
    with running_relay(queue_url, tracker_url=tracker.v5_url, tracker_token=TOKEN):
        code, out, _ = backfill(capsys, "git", str(git_world.server), "--wait", "60")
    assert code == 0
    assert out.splitlines()[-1] == "delivered 2, waiting 0, dead 0"
    for story, commit in zip(stories, commits, strict=True):
        assert [c["commit_identifier"] for c in tracker.comments(project, story)] == [commit]
    store = open_store(queue_url)
    try:
        assert store.counts()[State.DELIVERED] == 2
    finally:
        store.close()
