"""The git post-receive hook, both forms, against real pushes into a bare repository.

Every test runs twice (the ``form`` fixture): once with the standalone shell script, once with
the Python hook. The Tracker side is the recorder on loopback; what it received is parsed with
``hookrelay.core.ingest`` and compared field by field with what git stored.
"""

from __future__ import annotations

import socket
import subprocess

import pytest

from hookrelay.hooks.run import FOREGROUND_COMMITS
from tests.hooks.repos import ZERO, GitWorld, install, received_commits
from tests.support.recorder import Received, Recorder, Reply
from tests.support.waiting import wait_until

STAY = ("--foreground-seconds", "60")  # no hand-off: the push returns when the hook is done


def ids(recorder: Recorder) -> list[str]:
    """The commit ids the recorder received, in order."""
    return [commit.commit_id for commit in received_commits(recorder)]


def story(n: int, text: str = "") -> str:
    """A message naming story ``n``."""
    return f"[#{n}] {text or f'change {n}'}"


@pytest.fixture
def server(git_world: GitWorld, recorder: Recorder, form: str) -> GitWorld:
    """A bare repository with the hook of this form installed, pointed at the recorder (v3)."""
    install("git", git_world.server, form, f"{recorder.url}/services/v3", *STAY)
    return git_world


def test_push_sends_each_new_story_commit_once_oldest_first(
    server: GitWorld, recorder: Recorder
) -> None:
    """A push of three commits posts the two that name a story, parents first, once each."""
    first = server.commit(story(1))
    server.commit("no story here")
    third = server.commit(story(3))
    server.push("main")
    assert ids(recorder) == [first, third]
    assert not list((server.state() / "spool").iterdir())


def test_new_branch_of_old_commits_sends_nothing(server: GitWorld, recorder: Recorder) -> None:
    """Pushing a new branch whose commits the repository already has posts nothing."""
    server.commit(story(1))
    server.push("main")
    before = len(recorder.received)
    server.push("main:refs/heads/copy")
    assert len(recorder.received) == before


def test_branch_deletion_sends_nothing(server: GitWorld, recorder: Recorder) -> None:
    """Deleting a branch posts nothing."""
    server.commit(story(1))
    server.push("main", "main:refs/heads/doomed")
    before = len(recorder.received)
    server.push(":refs/heads/doomed")
    assert len(recorder.received) == before


def test_forced_push_sends_only_the_rewritten_commits(server: GitWorld, recorder: Recorder) -> None:
    """A forced push posts the commits that replace history, not the ones it threw away."""
    base = server.commit(story(1))
    server.commit(story(2))
    server.push("main")
    server.git(server.clone, "reset", "-q", "--hard", base)
    rewritten = [server.commit(story(3)), server.commit(story(4))]
    before = len(recorder.received)
    server.push("+main")
    assert ids(recorder)[before:] == rewritten


def test_merge_sends_merged_commits_and_the_merge_once(
    server: GitWorld, recorder: Recorder
) -> None:
    """Pushing a merge posts the merged branch's commits, main's new commit and the merge."""
    server.commit(story(1))
    server.push("main")
    server.git(server.clone, "checkout", "-q", "-b", "feature")
    feature = [server.commit(story(10)), server.commit(story(11))]
    server.git(server.clone, "checkout", "-q", "main")
    on_main = server.commit(story(2))
    server.git(server.clone, "merge", "-q", "--no-ff", "-m", story(3, "merge"), "feature")
    merge = server.git(server.clone, "rev-parse", "HEAD").strip()
    before = len(recorder.received)
    server.push("main")
    sent = ids(recorder)[before:]
    assert sorted(sent) == sorted([*feature, on_main, merge])
    assert sent[-1] == merge
    assert sent.index(feature[0]) < sent.index(feature[1])


def test_several_refs_in_one_push_send_each_commit_once(
    server: GitWorld, recorder: Recorder
) -> None:
    """Commits reachable from several pushed branches are posted once."""
    shared = [server.commit(story(1)), server.commit(story(2))]
    server.git(server.clone, "checkout", "-q", "-b", "topic")
    only_topic = server.commit(story(3))
    server.push("main", "topic", "main:refs/heads/also-main")
    sent = ids(recorder)
    assert sorted(sent) == sorted([*shared, only_topic])
    assert sent.index(shared[0]) < sent.index(shared[1])


def run_post_receive(world: GitWorld, stdin: bytes) -> None:
    """Run the server's installed post-receive as git would, with ``stdin`` as its ref updates."""
    hook = world.server / "hooks" / "post-receive"
    env = {**world.env, "GIT_DIR": "."}
    result = subprocess.run(
        [str(hook)], cwd=world.server, env=env, input=stdin, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_two_pushes_landing_at_once_with_one_commit_send_it_once(
    server: GitWorld, recorder: Recorder
) -> None:
    """Two pushes carry commit C to two new branches at the same moment: when each hook runs,
    both refs already point at C. C is sent exactly once (not zero times, not twice)."""
    base = server.commit(story(1))
    server.push("main")
    shared = server.commit(story(2))
    # The objects reach the server without a push (no hook), then both refs move at once.
    server.git(server.server, "fetch", "-q", str(server.clone), "main:refs/heads/incoming")
    server.git(server.server, "update-ref", "-d", "refs/heads/incoming")
    server.git(server.server, "update-ref", "refs/heads/one", shared)
    server.git(server.server, "update-ref", "refs/heads/two", shared)
    run_post_receive(server, f"{ZERO} {shared} refs/heads/one\n".encode())
    run_post_receive(server, f"{ZERO} {shared} refs/heads/two\n".encode())
    assert ids(recorder) == [base, shared]


def test_branch_deleted_and_pushed_again_is_not_sent_again(
    server: GitWorld, recorder: Recorder
) -> None:
    """Push a branch, delete it, push it again: its commits are sent once."""
    base = server.commit(story(1))
    server.push("main")
    server.git(server.clone, "checkout", "-q", "-b", "doomed")
    only_doomed = [server.commit(story(2)), server.commit(story(3))]
    server.push("doomed")
    server.push(":refs/heads/doomed")
    server.push("doomed")
    assert ids(recorder) == [base, *only_doomed]


def test_branch_name_that_is_not_utf8_is_relayed(server: GitWorld, recorder: Recorder) -> None:
    """A push to a branch whose name is not valid UTF-8 (b"caf\\xe9") sends its commits: the hook
    compares ref names as bytes, whatever the decoding."""
    pushed = server.commit(story(1))
    result = subprocess.run(
        [b"git", b"push", b"-q", b"origin", b"HEAD:refs/heads/caf\xe9"],
        cwd=server.clone,
        env=server.env,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert ids(recorder) == [pushed]
    more = server.commit(story(2))
    result = subprocess.run(
        [b"git", b"push", b"-q", b"origin", b"HEAD:refs/heads/caf\xe9"],
        cwd=server.clone,
        env=server.env,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert ids(recorder) == [pushed, more]


def test_tags_are_ignored(server: GitWorld, recorder: Recorder) -> None:
    """Pushing tags, light or annotated, even of new commits, posts nothing."""
    server.commit(story(1))
    server.push("main")
    server.git(server.clone, "checkout", "-q", "--detach")
    server.commit(story(2))
    server.git(server.clone, "tag", "light")
    server.git(server.clone, "tag", "-a", "-m", story(3, "annotated"), "annotated")
    before = len(recorder.received)
    server.push("refs/tags/light", "refs/tags/annotated")
    assert len(recorder.received) == before


def test_branch_filter_relays_only_matching_branches(
    git_world: GitWorld, recorder: Recorder, form: str
) -> None:
    """With branches "main release/*", a feature branch is not relayed until merged into main."""
    install(
        "git",
        git_world.server,
        form,
        f"{recorder.url}/services/v3",
        *STAY,
        "--branches",
        "main release/*",
    )
    base = git_world.commit(story(1))
    git_world.push("main")
    git_world.git(git_world.clone, "checkout", "-q", "-b", "feature")
    feature = git_world.commit(story(2))
    git_world.push("feature")
    assert ids(recorder) == [base]
    git_world.git(git_world.clone, "checkout", "-q", "-b", "release/1.0", "main")
    fix = git_world.commit(story(3))
    git_world.push("release/1.0")
    assert ids(recorder) == [base, fix]
    git_world.git(git_world.clone, "checkout", "-q", "main")
    git_world.git(git_world.clone, "merge", "-q", "--ff-only", "feature")
    git_world.push("main")
    assert ids(recorder) == [base, fix, feature]


def test_all_commits_setting_sends_commits_naming_no_story(
    git_world: GitWorld, recorder: Recorder, form: str
) -> None:
    """With --all-commits, a commit that names no story is posted too."""
    install("git", git_world.server, form, f"{recorder.url}/services/v3", *STAY, "--all-commits")
    plain = git_world.commit("Refactor the flux capacitor")
    git_world.push("main")
    assert ids(recorder) == [plain]


def test_tracker_down_spools_and_the_next_push_delivers_oldest_first(
    git_world: GitWorld, recorder: Recorder, form: str, unused_port_url: str
) -> None:
    """With Tracker unreachable the push succeeds and spools; the next push sends all, in order."""
    install("git", git_world.server, form, f"{unused_port_url}/services/v3", *STAY)
    spooled = [git_world.commit(story(1)), git_world.commit(story(2))]
    said = git_world.push("main")
    assert "spooled" in said
    assert len(list((git_world.state() / "spool").iterdir())) == 2
    install("git", git_world.server, form, f"{recorder.url}/services/v3", *STAY)
    later = git_world.commit(story(3))
    git_world.push("main")
    assert ids(recorder) == [*spooled, later]
    assert not list((git_world.state() / "spool").iterdir())


def test_tracker_errors_stop_the_pass_and_keep_the_rest(
    server: GitWorld, recorder: Recorder
) -> None:
    """A 503 leaves that commit and the ones after it spooled for the next push."""
    recorder.script.append(Reply(503, b"<errors><error>maintenance</error></errors>"))
    first, second = server.commit(story(1)), server.commit(story(2))
    server.push("main")
    assert ids(recorder) == [first]
    assert len(list((server.state() / "spool").iterdir())) == 2
    assert "maintenance" in (server.state() / "hookrelay.log").read_text()
    third = server.commit(story(3))
    server.push("main")
    assert ids(recorder) == [first, first, second, third]


def test_commit_tracker_always_fails_is_set_aside_and_does_not_block_the_rest(
    server: GitWorld, recorder: Recorder
) -> None:
    """A commit Tracker answers with a 500 every time keeps being retried, but after 10 runs it
    moves to refused/ with Tracker's last answer, and the commits spooled behind it go out."""
    poison = server.commit(story(1))

    def answer(request: Received) -> Reply:
        if poison.encode() in request.body:
            return Reply(500, b"<errors><error>boom</error></errors>")
        return Reply(200, b"<source_commit/>")

    recorder.responder = answer
    server.push("main")
    later = []
    for n in range(2, 11):  # runs 2 to 10
        # A spool bigger than FOREGROUND_COMMITS is sent by the background: wait for it.
        wait_until(lambda: len(recorder.received) >= n - 1, 30, f"run {n - 1}")  # noqa: B023
        wait_until(lambda: not (server.state() / "lock").exists(), 30, "the sender to finish")
        assert ids(recorder) == [poison] * (n - 1)
        later.append(server.commit(story(n)))
        server.push("main")
    wait_until(lambda: len(recorder.received) >= 19, 30, "the commits behind the poison")
    wait_until(lambda: not (server.state() / "lock").exists(), 30, "the sender to finish")
    assert ids(recorder) == [poison] * 10 + later
    assert not list((server.state() / "spool").iterdir())
    assert [p.name.rsplit(".", 1)[1] for p in (server.state() / "refused").iterdir()] == [poison]
    gave_up = [
        line
        for line in (server.state() / "hookrelay.log").read_text().splitlines()
        if f"refused {poison}: gave up after 10 runs: HTTP 500" in line
    ]
    assert len(gave_up) == 1
    assert "boom" in gave_up[0]


def test_hanging_tracker_is_bounded_and_the_commit_spooled(
    git_world: GitWorld, recorder: Recorder, form: str
) -> None:
    """A Tracker that never answers costs the push its time budget, then the commit waits."""
    install(
        "git", git_world.server, form, f"{recorder.url}/services/v3", "--foreground-seconds", "1"
    )
    recorder.default = Reply(action="hang")
    git_world.commit(story(1))
    git_world.push("main")
    wait_until(lambda: not (git_world.state() / "lock").exists(), 30, "the hook to let go")
    assert len(list((git_world.state() / "spool").iterdir())) == 1


def test_refused_commit_is_set_aside_with_trackers_reason(
    server: GitWorld, recorder: Recorder
) -> None:
    """A 422 moves the commit to refused/, logs Tracker's error text, and is not sent again."""
    recorder.script.append(Reply(422, b"<errors><error>Story 1 not found</error></errors>"))
    refused = server.commit(story(1))
    server.push("main")
    assert [p.name.rsplit(".", 1)[1] for p in (server.state() / "refused").iterdir()] == [refused]
    log = (server.state() / "hookrelay.log").read_text()
    assert f"refused {refused}" in log
    assert "Story 1 not found" in log
    accepted = server.commit(story(2))
    server.push("main")
    assert ids(recorder) == [refused, accepted]


def test_log_records_each_send_and_never_the_token(
    git_world: GitWorld, recorder: Recorder, form: str
) -> None:
    """The log says what was sent and what failed, with the token blanked even in Tracker's text."""
    token = "s3cr3t-TOKEN-value"
    install("git", git_world.server, form, f"{recorder.url}/services/v3", *STAY, token=token)
    recorder.script.append(Reply(401, f"Invalid token {token}".encode()))
    refused = git_world.commit(story(1))
    sent = git_world.commit(story(2))
    git_world.push("main")
    assert recorder.received[0].headers["X-TrackerToken"] == token
    log = (git_world.state() / "hookrelay.log").read_text()
    assert f"refused {refused}: HTTP 401" in log
    assert f"sent {sent}: HTTP 200" in log
    assert token not in log
    assert "[token]" in log


def test_big_push_hands_the_rest_to_the_background(
    git_world: GitWorld, recorder: Recorder, form: str
) -> None:
    """A 1,000-commit push returns at once and a background process delivers each commit once,
    in order, over a few kept-alive connections."""
    install(
        "git", git_world.server, form, f"{recorder.url}/services/v3", "--foreground-seconds", "0"
    )
    commits = git_world.fast_import([story(n).encode() for n in range(1, 1001)])
    said = git_world.push("main")
    assert "background" in said
    wait_until(lambda: len(recorder.received) >= 1000, 120, "1,000 commits delivered")
    wait_until(lambda: not (git_world.state() / "lock").exists(), 30, "the background to finish")
    assert ids(recorder) == commits
    assert recorder.connections <= 40
    assert (
        "handing 1000 commits to the background"
        in (git_world.state() / "hookrelay.log").read_text()
    )


def test_push_of_thousands_of_commits_is_spooled_and_each_delivered_once(
    git_world: GitWorld, recorder: Recorder, form: str
) -> None:
    """A 4,000-commit push with the default foreground budget: the hook spools them all (one
    pass over the spool, not one a commit), returns, and every commit arrives once, in order;
    the log says the hook handed the rest off or sent the last one itself."""
    install("git", git_world.server, form, f"{recorder.url}/services/v3")
    commits = git_world.fast_import([story(n).encode() for n in range(1, 4001)])
    said = git_world.push("main")
    wait_until(lambda: len(recorder.received) >= 4000, 240, "4,000 commits delivered")
    wait_until(lambda: not (git_world.state() / "lock").exists(), 30, "the sender to finish")
    assert ids(recorder) == commits
    assert not list((git_world.state() / "spool").iterdir())
    log = (git_world.state() / "hookrelay.log").read_text()
    assert f"sent {commits[-1]}: HTTP 200" in log
    if "background" in said:
        assert "commits to the background" in log
    else:
        assert "4000 sent" in said


def test_a_push_bigger_than_the_foreground_share_goes_to_the_background(
    server: GitWorld, recorder: Recorder
) -> None:
    """A spool of more than FOREGROUND_COMMITS goes to the background at once, even with time
    to spare; every commit arrives once, oldest first."""
    commits = server.fast_import([story(n).encode() for n in range(1, FOREGROUND_COMMITS + 2)])
    said = server.push("main")
    assert "0 sent; the rest goes in the background" in said
    wait_until(lambda: len(recorder.received) >= len(commits), 30, "every commit")
    wait_until(lambda: not (server.state() / "lock").exists(), 30, "the sender to finish")
    assert ids(recorder) == commits
    log = (server.state() / "hookrelay.log").read_text()
    assert f"handing {len(commits)} commits to the background" in log


def test_spool_names_sort_in_the_order_commits_were_spooled(
    git_world: GitWorld, form: str, unused_port_url: str
) -> None:
    """A commit spooled after another sorts after it, even when the earlier one's stamp is
    ahead of the clock and its process id above any (process ids wrap)."""
    install("git", git_world.server, form, f"{unused_port_url}/services/v3", *STAY)
    first = git_world.commit(story(1))
    git_world.push("main")
    spool = git_world.state() / "spool"
    [entry] = spool.iterdir()
    stamp = int(entry.name.split(".")[0])
    entry.rename(spool / f"{stamp + 1000:010d}.9999999.000001.{first}")
    second = git_world.commit(story(2))
    git_world.push("main")
    assert [name.rsplit(".", 1)[1] for name in sorted(p.name for p in spool.iterdir())] == [
        first,
        second,
    ]


def test_push_into_a_repository_without_settings_still_succeeds(
    git_world: GitWorld, recorder: Recorder, form: str
) -> None:
    """A hook whose URL and token were removed says so and lets the push through."""
    install("git", git_world.server, form, f"{recorder.url}/services/v3", *STAY)
    git_world.git(git_world.server, "config", "--remove-section", "hookrelay")
    git_world.commit(story(1))
    said = git_world.push("main")
    assert "not configured" in said
    assert recorder.received == []


@pytest.fixture
def unused_port_url() -> str:
    """An http URL where nothing listens (a port just released by a server that closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
