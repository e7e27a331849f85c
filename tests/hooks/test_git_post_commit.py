"""The git post-commit hook (a laptop's working copy), both forms, against real commits."""

from __future__ import annotations

from hookrelay.core.source_commit import SourceCommit
from tests.hooks.repos import GitWorld, install, received_commits
from tests.support.recorder import Recorder


def test_commit_sends_the_new_commit(git_world: GitWorld, recorder: Recorder, form: str) -> None:
    """Committing in a working copy posts that commit, with its message and author, as v5 JSON."""
    install(
        "git",
        git_world.clone,
        form,
        f"{recorder.url}/services/v5",
        "--commit-url",
        "https://example.com/%H",
    )
    assert (git_world.clone / ".git" / "hooks" / "post-commit").is_file()
    commit = git_world.commit("[Delivers #42] Ship it\n\nwith & care\n", author="Grace Hopper")
    assert received_commits(recorder) == [
        SourceCommit(
            commit,
            "[Delivers #42] Ship it\n\nwith & care",
            "Grace Hopper",
            f"https://example.com/{commit}",
        )
    ]
    assert recorder.received[0].headers["Content-Type"] == "application/json"


def test_commit_naming_no_story_is_not_sent(
    git_world: GitWorld, recorder: Recorder, form: str
) -> None:
    """A commit whose message names no story is not posted."""
    install("git", git_world.clone, form, f"{recorder.url}/services/v3")
    git_world.commit("Fix #42 (no brackets, so no story)")
    assert recorder.received == []


def test_branch_filter_skips_other_branches_and_detached_head(
    git_world: GitWorld, recorder: Recorder, form: str
) -> None:
    """With a branch filter, commits on other branches or a detached HEAD are not posted."""
    install("git", git_world.clone, form, f"{recorder.url}/services/v3", "--branches", "main")
    on_main = git_world.commit("[#1] on main")
    git_world.git(git_world.clone, "checkout", "-q", "-b", "topic")
    git_world.commit("[#2] on topic")
    git_world.git(git_world.clone, "checkout", "-q", "--detach")
    git_world.commit("[#3] detached")
    assert [c.commit_id for c in received_commits(recorder)] == [on_main]
