"""``hookrelay serve`` as a real process: kill -9 with commits in flight, restart, all arrives.

The target is a stand-in that parks requests at a gate in front of the emulator, so commits are
provably in flight when the process dies. Released afterwards, the parked posts reach Tracker
although the relay never heard the answer; the restarted relay posts them again when their
leases expire, and Tracker keeps one comment per commit, as it always did.
"""

from __future__ import annotations

import signal
import socket
from collections import Counter

import httpx

from hookrelay.queue import State, open_store
from tests.e2e.conftest import FAST, SECRET
from tests.e2e.process import hookrelay_serve
from tests.e2e.standin import standin
from tests.e2e.test_delivery import signed_headers
from tests.support.emulator import running_emulator
from tests.support.waiting import wait_until
from tests.web.conftest import push_body, pushed_commit

CONCURRENCY = 3


def _environment(database_url: str, tracker_url: str, token: str) -> dict[str, str]:
    timings = {f"HOOKRELAY_{name.upper()}": str(value) for name, value in FAST.items()}
    return {
        **timings,
        "HOOKRELAY_CONCURRENCY": str(CONCURRENCY),
        "HOOKRELAY_LEASE_SECONDS": "2",
        "HOOKRELAY_DATABASE_URL": database_url,
        "HOOKRELAY_TRACKER_URL": tracker_url,
        "HOOKRELAY_TRACKER_TOKEN": token,
        "HOOKRELAY_GITHUB_SECRET": SECRET,
    }


def _post_pushes(url: str, story: int, pushes: int, per_push: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for p in range(pushes):
            commits = [
                pushed_commit(f"{p:020x}{n:020x}", f"[#{story}] push {p} commit {n}")
                for n in range(per_push)
            ]
            body = push_body(commits, branch=f"branch-{p}")
            answer = client.post(
                "/github", content=body, headers=signed_headers(body, "X-GitHub-Event")
            )
            assert answer.status_code == 202
            assert answer.json()["queued"] == per_push
            ids += [c["id"] for c in commits]
    return ids


def test_kill_9_with_commits_in_flight_then_restart_delivers_everything(database_url: str) -> None:
    """A serve killed with -9 mid-delivery loses nothing: the restarted one delivers the rest."""
    with running_emulator() as tracker, standin(tracker.base_url) as gate:
        project = tracker.create_project("crash")
        story = tracker.create_story(project, "Survives kill -9", "feature")
        gate.hold()
        gate.open()
        env = _environment(database_url, gate.url, tracker.token)
        with hookrelay_serve(env) as first:
            ids = _post_pushes(first.url, story, pushes=3, per_push=4)
            gate.wait_for_held(CONCURRENCY)
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(10)
        gate.release()  # the parked posts reach Tracker; the dead relay never hears of it
        with hookrelay_serve(env) as second:
            wait_until(
                lambda: (
                    set(Counter(c["commit_identifier"] for c in tracker.comments(project, story)))
                    == set(ids)
                ),
                30,
                "every commit on the story",
                every=0.05,
            )
            store = open_store(database_url)
            try:
                wait_until(
                    lambda: store.counts()[State.DELIVERED] == len(ids),
                    30,
                    "every delivery recorded",
                    every=0.05,
                )
            finally:
                store.close()
            second.process.send_signal(signal.SIGTERM)
            assert second.process.wait(30) == 0
        comments = Counter(c["commit_identifier"] for c in tracker.comments(project, story))
        assert comments == Counter(ids)


def test_sigterm_finishes_posts_in_flight_and_releases_the_rest(database_url: str) -> None:
    """SIGTERM lets the posts in flight finish, leaves nothing leased, and exits 0."""
    with running_emulator() as tracker, standin(tracker.base_url) as gate:
        project = tracker.create_project("graceful")
        story = tracker.create_story(project, "Stops cleanly", "feature")
        gate.hold()
        gate.open()
        env = _environment(database_url, gate.url, tracker.token)
        with hookrelay_serve(env) as serve:
            ids = _post_pushes(serve.url, story, pushes=2, per_push=4)
            gate.wait_for_held(CONCURRENCY)
            serve.process.send_signal(signal.SIGTERM)
            wait_until(
                lambda: serve.logged("SIGTERM received"), 30, "the stop to begin", every=0.05
            )
            gate.release()
            assert serve.process.wait(30) == 0
        assert any("hookrelay stopped" in line.get("message", "") for line in serve.lines)
        store = open_store(database_url)
        try:
            counts = store.counts()
        finally:
            store.close()
        assert counts[State.LEASED] == 0
        assert counts[State.DELIVERED] == CONCURRENCY
        assert counts[State.PENDING] == len(ids) - CONCURRENCY
        assert len(tracker.comments(project, story)) == CONCURRENCY


def test_kill_9_with_pushes_in_the_inbox_then_restart_delivers_them_once(
    database_url: str,
) -> None:
    """Pushes kept in the inbox under load (answered 202, not yet expanded) survive kill -9:
    the restarted relay expands and delivers each commit once."""
    with running_emulator() as tracker:
        project = tracker.create_project("inbox-crash")
        story = tracker.create_story(project, "Kept through kill -9", "feature")
        env = _environment(database_url, tracker.v5_url, tracker.token)
        ids = []
        with hookrelay_serve(env) as first:
            host, port = first.url.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port))) as slow:
                # A request still sending its body keeps the receiver busy, so the pushes
                # below are kept in the inbox and the expander waits for it to end.
                slow.sendall(
                    b"POST /github HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
                    b"X-GitHub-Event: push\r\nContent-Length: 1000\r\n\r\n{"
                )
                with httpx.Client(base_url=first.url, timeout=10) as client:
                    for p in range(3):
                        commit = pushed_commit(f"{p + 1:040x}", f"[#{story}] kept {p}")
                        body = push_body([commit], branch=f"kept-{p}")
                        answer = client.post(
                            "/github", content=body, headers=signed_headers(body, "X-GitHub-Event")
                        )
                        assert answer.status_code == 202
                        assert answer.json()["accepted"] == 1, answer.text
                        assert "queued" not in answer.json()  # kept, not yet queued
                        ids.append(commit["id"])
                first.process.send_signal(signal.SIGKILL)
                first.process.wait(10)
        store = open_store(database_url)
        try:
            assert store.inbox_count() == 3
            assert sum(store.counts().values()) == 0
        finally:
            store.close()
        with hookrelay_serve(env) as second:
            wait_until(
                lambda: len(tracker.comments(project, story)) == len(ids),
                30,
                "every kept commit on the story",
                every=0.05,
            )
            second.process.send_signal(signal.SIGTERM)
            assert second.process.wait(30) == 0
        comments = Counter(c["commit_identifier"] for c in tracker.comments(project, story))
        assert comments == Counter(ids)
