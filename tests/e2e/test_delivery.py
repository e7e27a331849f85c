"""Webhooks in, Tracker comments out: real payloads and hostile messages, each commit exactly once."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from hookrelay.core.signatures import sign
from hookrelay.core.source_commit import SourceCommit, render_v3_xml
from hookrelay.emulator.world import commit_comment_text
from hookrelay.queue import State
from tests.conftest import FIXTURES
from tests.e2e.conftest import SECRET, Relay, running_relay
from tests.support.emulator import RunningEmulator, running_emulator
from tests.web.conftest import push_body, pushed_commit

# Every real push that carries commits: (fixture, endpoint, event header, signature header).
REAL_PUSHES = [
    ("github/api.github.com/push/with-new-branch.payload.json", "/github", "X-GitHub-Event"),
    (
        "github/api.github.com/push/with-no-username-committer.payload.json",
        "/github",
        "X-GitHub-Event",
    ),
    ("forges/github/push.json", "/github", "X-GitHub-Event"),
    ("forges/gitea/push-event.json", "/github", "X-Gitea-Event"),
    ("forges/gogs/push-event.json", "/github", "X-Gogs-Event"),
    ("forges/gitlab/push-event.json", "/gitlab", "X-Gitlab-Event"),
]

HOSTILE = [
    "<script>alert(\"x\")</script> & 'quotes' ]]> <![CDATA[ x ]]>",
    "controls \x00\x01\x08\x0b\x0c\x1f and \ufffe\uffff kept out",
    "lone surrogate \ud800 and astral \U0001f680 and RTL \u202e override",
    "CRLF body\r\n\r\nsecond paragraph\r\n- item\r\n",
    "entity lookalikes &amp; &#0; &lt;b&gt; %s {0} ${HOME} `rm -rf /`",
    "x" * 20_000,
]


def signed_headers(body: bytes, event_header: str) -> dict[str, str]:
    """The headers a forge sends, signed with the relay's secret as that forge signs."""
    headers = {"Content-Type": "application/json"}
    if event_header == "X-Gitlab-Event":
        return {**headers, event_header: "Push Hook", "X-Gitlab-Token": SECRET}
    headers[event_header] = "push"
    signature = sign(body, SECRET)
    if event_header == "X-GitHub-Event":
        headers["X-Hub-Signature-256"] = f"sha256={signature}"
    else:
        headers[event_header.replace("Event", "Signature")] = signature
    return headers


def expected_text(commit: dict[str, Any]) -> str:
    """The comment Tracker writes for a commit of a push payload, from the payload's own fields."""
    author = commit["author"].get("name") or commit["author"].get("username", "")
    return commit_comment_text(
        SourceCommit.of(
            commit_id=commit["id"], message=commit["message"], author=author, url=commit["url"]
        )
    )


def comments_by_commit(tracker: RunningEmulator, project: int, story: int) -> Counter[str]:
    """How many comments the story has for each commit id."""
    return Counter(c["commit_identifier"] for c in tracker.comments(project, story))


@pytest.mark.parametrize("version", ["v5", "v3"], ids=["tracker-v5", "tracker-v3"])
def test_real_and_hostile_pushes_arrive_once_with_exact_fields(
    database_url: str, version: str
) -> None:
    """Signed real deliveries of every forge and hostile messages become one exact comment each."""
    with running_emulator() as tracker:
        project = tracker.create_project("relay")
        feature = tracker.create_story(project, "Real payloads", "feature")
        bug = tracker.create_story(project, "Hostile messages", "bug")
        target = tracker.v5_url if version == "v5" else tracker.v3_url
        expected: dict[int, dict[str, str]] = {feature: {}, bug: {}}
        with running_relay(database_url, tracker_url=target, tracker_token=tracker.token) as relay:
            for path, endpoint, event_header in REAL_PUSHES:
                payload = json.loads((FIXTURES / path).read_text(encoding="utf-8"))
                for commit in payload["commits"]:
                    commit["message"] = f"[Finishes #{feature}] {commit['message']}"
                    expected[feature][commit["id"]] = expected_text(commit)
                body = json.dumps(payload).encode("utf-8")
                answer = relay.client.post(
                    endpoint, content=body, headers=signed_headers(body, event_header)
                )
                assert answer.status_code == 202, (path, answer.text)
            hostile = [
                pushed_commit(f"{n + 1:040x}", f"[fixes #{bug}] {message}")
                for n, message in enumerate(HOSTILE)
            ]
            hostile[0]["author"]["name"] = 'Zoë "<admin>" & Co \x07'
            for commit in hostile:
                expected[bug][commit["id"]] = expected_text(commit)
            body = push_body(hostile)
            answer = relay.client.post(
                "/github", content=body, headers=signed_headers(body, "X-GitHub-Event")
            )
            assert answer.json()["queued"] == len(HOSTILE)
            relay.wait_delivered(sum(len(commits) for commits in expected.values()))
        for story, commits in expected.items():
            comments = tracker.comments(project, story)
            assert Counter(c["commit_identifier"] for c in comments) == Counter(list(commits))
            assert {c["commit_identifier"]: c["text"] for c in comments} == commits
        assert tracker.story(project, feature)["current_state"] == "finished"
        assert tracker.story(project, bug)["current_state"] == "finished"


def test_redelivery_branches_and_not_distinct_post_nothing_twice(database_url: str) -> None:
    """A redelivered push, the same commits on ten branches and distinct: false add no comment."""
    with running_emulator() as tracker:
        project = tracker.create_project("dedupe")
        story = tracker.create_story(project, "Once only", "feature")
        commits = [pushed_commit(f"{n:040x}", f"[#{story}] change {n}") for n in range(1, 4)]
        with running_relay(
            database_url, tracker_url=tracker.v5_url, tracker_token=tracker.token
        ) as relay:
            first = push_body(commits)
            headers = signed_headers(first, "X-GitHub-Event")
            assert (
                relay.client.post("/github", content=first, headers=headers).json()["queued"] == 3
            )
            relay.wait_delivered(3)
            # GitHub's "Redeliver" sends the same body again, after delivery and before it.
            assert (
                relay.client.post("/github", content=first, headers=headers).json()["duplicates"]
                == 3
            )
            for n in range(10):
                body = push_body(commits, branch=f"topic-{n}")
                relay.client.post(
                    "/github", content=body, headers=signed_headers(body, "X-GitHub-Event")
                )
            merged = [pushed_commit(c["id"], c["message"], distinct=False) for c in commits]
            merged.append(pushed_commit("f" * 40, f"[#{story}] merge"))
            body = push_body(merged, branch="release")
            answer = relay.client.post(
                "/github", content=body, headers=signed_headers(body, "X-GitHub-Event")
            )
            assert answer.json()["queued"] == 1
            assert answer.json()["skipped_reasons"] == {"not_distinct": 3}
            relay.wait_delivered(4)
        assert comments_by_commit(tracker, project, story) == Counter(
            [c["id"] for c in commits] + ["f" * 40]
        )


def test_tracker_compatible_ingest_is_relayed_to_the_target(database_url: str) -> None:
    """A v3 XML source_commit posted to hookrelay reaches a v5 target with the caller's token."""
    with running_emulator() as tracker:
        project = tracker.create_project("ingest")
        story = tracker.create_story(project, "Old hook script", "bug")
        commit = SourceCommit.of(
            commit_id="r42", message=f"[Delivers #{story}] <old> & script", author="svn"
        )
        with running_relay(database_url, tracker_url=tracker.v5_url, tracker_token=None) as relay:
            answer = relay.client.post(
                "/services/v3/source_commits",
                content=render_v3_xml(commit),
                headers={"X-TrackerToken": tracker.token, "Content-Type": "application/xml"},
            )
            assert answer.status_code == 200
            assert answer.text == render_v3_xml(commit).decode()
            relay.wait_delivered(1)
        (comment,) = tracker.comments(project, story)
        assert comment["text"] == commit_comment_text(commit)
        assert tracker.story(project, story)["current_state"] == "delivered"


def test_same_revision_number_of_two_repositories_is_two_commits(database_url: str) -> None:
    """r12 of two Subversion repositories, posted by old scripts with one token, both arrive;
    the same script posting its r12 again adds nothing."""
    with running_emulator() as tracker:
        project = tracker.create_project("two-svn-repositories")
        first = tracker.create_story(project, "Repository A", "feature")
        second = tracker.create_story(project, "Repository B", "feature")
        commits = [
            SourceCommit.of(commit_id="12", message=f"[#{story}] r12 of {name}", author="svn")
            for story, name in ((first, "A"), (second, "B"))
        ]
        with running_relay(database_url, tracker_url=tracker.v5_url, tracker_token=None) as relay:
            for commit in (*commits, commits[0]):
                answer = relay.client.post(
                    "/services/v3/source_commits",
                    content=render_v3_xml(commit),
                    # what `curl -d` sends when a script names no Content-Type
                    headers={
                        "X-TrackerToken": tracker.token,
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                )
                assert answer.status_code == 200, answer.text
            relay.wait_delivered(2)
        assert [len(tracker.comments(project, s)) for s in (first, second)] == [1, 1]


def test_a_refused_commit_goes_dead_with_trackers_words_and_can_be_retried(
    database_url: str,
) -> None:
    """A bad token is refused for good: dead with Tracker's text, listed, then retried by id."""
    with running_emulator() as tracker:
        project = tracker.create_project("dead")
        story = tracker.create_story(project, "Wrong token", "feature")
        admin = {"Authorization": "Bearer admin-token"}
        # A token hookrelay was told to take (HOOKRELAY_INGEST_TOKENS) but Tracker refuses; an
        # unknown one would be refused at the door, since the emulator answers GET /me 401.
        settings = {
            "tracker_url": tracker.v5_url,
            "admin_token": "admin-token",
            "ingest_tokens": "not-the-token",
        }
        with running_relay(database_url, **settings) as relay:
            body = push_body([pushed_commit("d" * 40, f"[#{story}] refused")])
            relay.client.post(
                "/services/v3/github_commits",
                params={"token": "not-the-token"},
                content=body,
                headers=signed_headers(body, "X-GitHub-Event"),
            )
            relay.wait_until(lambda: _dead(relay) == 1, "a dead delivery")
            (dead,) = relay.client.get(
                "/deliveries", params={"state": "dead"}, headers=admin
            ).json()["deliveries"]
            assert dead["last_error"].startswith("HTTP 401")
            assert "not-the-token" not in json.dumps(dead)
            retried = relay.client.post(f"/deliveries/{dead['id']}/retry", headers=admin)
            assert retried.status_code == 200
            # Retried, refused again: dead once more, with a second attempt counted.
            relay.wait_until(
                lambda: _dead(relay) == 1 and _attempts(relay, dead["id"]) == 2, "the retry"
            )
        assert tracker.comments(project, story) == []


def _dead(relay: Relay) -> int:
    return relay.store.counts()[State.DEAD]


def _attempts(relay: Relay, delivery_id: int) -> int:
    delivery = relay.store.get(delivery_id)
    return -1 if delivery is None else delivery.attempts
