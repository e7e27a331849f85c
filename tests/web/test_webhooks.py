"""Forge webhooks over real HTTP into a real SQLite queue: what is queued, skipped and answered."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import pytest

from hookrelay.core.signatures import sign
from hookrelay.exceptions import StoreError
from hookrelay.inbox import Expander
from hookrelay.web.routes.webhooks import WebhookAnswer
from tests.conftest import FIXTURES
from tests.support.waiting import wait_until
from tests.web.conftest import (
    SECRET,
    TOKEN,
    Receiver,
    ReceiverFactory,
    github_headers,
    push_body,
    pushed_commit,
)

# (fixture path, event header, forge) of every real push that carries commits.
REAL_PUSHES = [
    ("github/api.github.com/push/with-new-branch.payload.json", "X-GitHub-Event", "github"),
    (
        "github/api.github.com/push/with-no-username-committer.payload.json",
        "X-GitHub-Event",
        "github",
    ),
    ("forges/github/push.json", "X-GitHub-Event", "github"),
    ("forges/gitea/push-event.json", "X-Gitea-Event", "gitea"),
    ("forges/gogs/push-event.json", "X-Gogs-Event", "gogs"),
]


def forge_headers(body: bytes, event_header: str, forge: str) -> dict[str, str]:
    """The headers each forge signs a push with (GitHub's sha256=, Gitea's and Gogs' bare hex)."""
    headers = {event_header: "push", "Content-Type": "application/json"}
    if forge == "github":
        headers["X-Hub-Signature-256"] = "sha256=" + sign(body, SECRET)
    else:
        headers[f"X-{forge.capitalize()}-Signature"] = sign(body, SECRET)
    return headers


@pytest.mark.parametrize(
    ("path", "event_header", "forge"),
    REAL_PUSHES,
    ids=[p[0].split("/")[-2] + "/" + p[0].split("/")[-1] for p in REAL_PUSHES],
)
def test_real_pushes_queue_their_commits_with_exact_fields(
    make_receiver: ReceiverFactory, path: str, event_header: str, forge: str
) -> None:
    """A signed real delivery of each forge queues each commit once, its fields unchanged."""
    raw = (FIXTURES / path).read_bytes()
    payload = json.loads(raw)
    with make_receiver(all_commits=True) as receiver:
        answer = receiver.client.post(
            "/github", content=raw, headers=forge_headers(raw, event_header, forge)
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["queued"] == len(payload["commits"])
        queued = receiver.pending()
    for delivery, commit in zip(queued, payload["commits"], strict=True):
        sent = json.loads(delivery.body)["source_commit"]
        assert sent == {
            "commit_id": commit["id"],
            "message": commit["message"],
            "author": commit["author"].get("name") or commit["author"].get("username"),
            "url": commit["url"],
        }
        assert delivery.token == TOKEN
        assert delivery.branch == payload["ref"].removeprefix("refs/heads/")


def test_gitlab_push_is_checked_with_its_token(make_receiver: ReceiverFactory) -> None:
    """GitLab's push hook at /gitlab is accepted with X-Gitlab-Token and refused without it."""
    raw = (FIXTURES / "forges/gitlab/push-event.json").read_bytes()
    headers = {"X-Gitlab-Event": "Push Hook", "Content-Type": "application/json"}
    with make_receiver(all_commits=True) as receiver:
        refused = receiver.client.post("/gitlab", content=raw, headers=headers)
        assert refused.status_code == 401
        assert receiver.queued() == 0
        accepted = receiver.client.post(
            "/gitlab", content=raw, headers={**headers, "X-Gitlab-Token": SECRET}
        )
        assert accepted.status_code == 202
        assert accepted.json()["queued"] == 2


def test_real_tag_pushes_and_pings_queue_nothing(receiver: Receiver) -> None:
    """Every real tag push and ping is answered 2xx and queues nothing."""
    for path in sorted(FIXTURES.glob("github/*/push/*.json")) + sorted(
        FIXTURES.glob("github/*/ping/*.json")
    ):
        raw = path.read_bytes()
        if json.loads(raw).get("commits"):
            continue
        event = "ping" if "ping" in path.parts else "push"
        answer = receiver.client.post(
            "/github", content=raw, headers=github_headers(raw, event=event)
        )
        assert answer.status_code == 202, (path, answer.text)
        assert answer.json()["event"] == event
    assert receiver.queued() == 0


def test_story_commits_queue_and_others_are_skipped(receiver: Receiver) -> None:
    """In a multi-commit push only commits naming a story queue; the answer counts the rest."""
    body = push_body(
        [
            pushed_commit("1" * 40, "[Finishes #101] first"),
            pushed_commit("2" * 40, "no story here"),
            pushed_commit("3" * 40, "[#102 #103] two stories"),
        ]
    )
    answer = receiver.client.post("/github", content=body, headers=github_headers(body))
    assert answer.status_code == 202
    WebhookAnswer.model_validate(answer.json())  # the documented shape, nothing else
    assert answer.json() == {
        "event": "push",
        "repository": "octo/cat",
        "accepted": 2,
        "queued": 2,
        "duplicates": 0,
        "skipped": 1,
        "skipped_reasons": {"no_story": 1},
    }
    assert [d.commit_id for d in receiver.pending()] == ["1" * 40, "3" * 40]


def test_redelivery_and_other_branches_cost_nothing(receiver: Receiver) -> None:
    """The same commits redelivered, or pushed to ten branches, are queued exactly once."""
    commits = [pushed_commit(f"{i:040x}", f"[#{i}] commit {i}") for i in range(1, 4)]
    first = push_body(commits)
    assert (
        receiver.client.post("/github", content=first, headers=github_headers(first)).json()[
            "queued"
        ]
        == 3
    )
    again = receiver.client.post(
        "/github",
        content=first,
        headers=github_headers(first, **{"X-GitHub-Delivery": "redelivery"}),
    )
    assert again.json()["duplicates"] == 3
    for n in range(10):
        body = push_body(commits, branch=f"branch-{n}")
        answer = receiver.client.post("/github", content=body, headers=github_headers(body))
        assert answer.json()["queued"] == 0
    assert receiver.queued() == 3


def test_not_distinct_commits_are_skipped(receiver: Receiver) -> None:
    """A distinct: false commit is not queued again (it came with an earlier push)."""
    body = push_body([pushed_commit("d" * 40, "[#5] merged", distinct=False)])
    answer = receiver.client.post("/github", content=body, headers=github_headers(body))
    assert answer.json()["skipped_reasons"] == {"not_distinct": 1}
    assert receiver.queued() == 0


def test_branch_filter_skips_other_branches(make_receiver: ReceiverFactory) -> None:
    """With HOOKRELAY_BRANCHES only matching branches relay."""
    with make_receiver(branches="main,release/*") as receiver:
        for branch, queued in (("main", 1), ("release/2.0", 1), ("feature/x", 0)):
            body = push_body([pushed_commit(f"{branch:x<40}"[:40], "[#1] x")], branch=branch)
            answer = receiver.client.post("/github", content=body, headers=github_headers(body))
            assert answer.json()["queued"] == queued, branch


def test_form_encoded_payload_is_read(receiver: Receiver) -> None:
    """A webhook sent as application/x-www-form-urlencoded payload= is read like JSON."""
    body = urlencode(
        {"payload": push_body([pushed_commit("f" * 40, "[#9] form")]).decode()}
    ).encode()
    headers = github_headers(body)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    answer = receiver.client.post("/github", content=body, headers=headers)
    assert answer.status_code == 202
    assert answer.json()["queued"] == 1


def test_trackers_own_hook_url_takes_the_token_from_the_query(
    make_receiver: ReceiverFactory,
) -> None:
    """/services/v3/github_commits?token= queues with that token, even with none configured."""
    with make_receiver(tracker_token=None, github_secret=None) as receiver:
        body = push_body([pushed_commit("e" * 40, "[#3] via tracker url")])
        headers = github_headers(body, secret=None)
        refused = receiver.client.post("/github", content=body, headers=headers)
        assert refused.status_code == 400
        assert "?token=" in refused.json()["detail"]
        answer = receiver.client.post(
            "/services/v3/github_commits",
            params={"token": "from-url"},
            content=body,
            headers=headers,
        )
        assert answer.status_code == 202
        (delivery,) = receiver.pending()
        assert delivery.token == "from-url"


def test_repository_routes_pick_token_target_and_secret(make_receiver: ReceiverFactory) -> None:
    """A [routes."owner/repo"] entry sends that repository's commits with its own token and target."""
    route: dict[str, Any] = {
        "token": "route-token",
        "target": "http://127.0.0.1:9/services/v3",
        "secret": "route-secret",
    }
    with make_receiver(routes={"Octo/Routed": route}) as receiver:
        body = push_body([pushed_commit("c" * 40, "[#4] routed")], repository="octo/routed")
        wrong = receiver.client.post("/github", content=body, headers=github_headers(body))
        assert wrong.status_code == 401
        answer = receiver.client.post(
            "/github", content=body, headers=github_headers(body, secret="route-secret")
        )
        assert answer.status_code == 202
        (delivery,) = receiver.pending()
    assert delivery.token == "route-token"
    assert delivery.target_url == "http://127.0.0.1:9/services/v3"
    assert delivery.body.startswith(b"<?xml")


def test_metrics_count_what_arrived(receiver: Receiver) -> None:
    """/metrics shows received, queued, skipped and the queue depth after a push."""
    body = push_body([pushed_commit("1" * 40, "[#1] a"), pushed_commit("2" * 40, "none")])
    receiver.client.post("/github", content=body, headers=github_headers(body))
    text = receiver.client.get("/metrics").text
    assert 'hookrelay_webhooks_received_total{endpoint="github"} 1.0' in text
    assert "hookrelay_commits_queued_total 1.0" in text
    assert 'hookrelay_commits_skipped_total{reason="no_story"} 1.0' in text
    assert 'hookrelay_queue_depth{state="pending"} 1.0' in text


@contextmanager
def _busy(receiver: Receiver) -> Iterator[None]:
    """The receiver busy with another request: one whose body is still arriving."""
    host, port = receiver.url.removeprefix("http://").split(":")
    received = receiver.metrics.received.labels(endpoint="github")
    before = received._value.get()
    with socket.create_connection((host, int(port))) as slow:
        slow.sendall(
            b"POST /github HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
            b"X-GitHub-Event: push\r\nContent-Length: 1000\r\n\r\n{"
        )
        wait_until(lambda: received._value.get() == before + 1, 10, "the slow request in flight")
        yield


def test_a_push_arriving_under_load_is_kept_then_expanded(receiver: Receiver) -> None:
    """While another request is in flight, a push is answered as soon as it is kept in the
    inbox: the answer says how many commits it relays, not yet what the queue made of them.
    The expander then queues them, and a second copy of the push queues nothing more."""
    body = push_body(
        [
            pushed_commit("1" * 40, "[Finishes #101] first"),
            pushed_commit("2" * 40, "no story here"),
        ]
    )
    with _busy(receiver):
        answers = [
            receiver.client.post("/github", content=body, headers=github_headers(body))
            for _ in range(2)
        ]
    for answer in answers:
        assert answer.status_code == 202, answer.text
        WebhookAnswer.model_validate(answer.json())
        assert answer.json() == {
            "event": "push",
            "repository": "octo/cat",
            "accepted": 1,
            "skipped": 1,
            "skipped_reasons": {"no_story": 1},
        }
    assert receiver.queued() == 0
    assert "hookrelay_inbox_pushes 2.0" in receiver.client.get("/metrics").text
    Expander(receiver.store, receiver.settings.routing(), clock=time.time).expand_once()
    assert "hookrelay_inbox_pushes 0.0" in receiver.client.get("/metrics").text
    (queued,) = receiver.pending()
    assert queued.commit_id == "1" * 40
    assert queued.story_ids == (101,)


def test_under_load_an_unconfirmed_token_is_queued_at_once_and_a_known_one_kept(
    make_receiver: ReceiverFactory,
) -> None:
    """A ?token= the Tracker cannot confirm is let in on its share of pending bytes, which
    counts what is queued: such a push is queued before the answer even under load, never
    kept where its share would not see it. A token hookrelay knows is kept as usual."""
    known = "known-ingest-token-0123"
    with make_receiver(ingest_tokens=known) as receiver, _busy(receiver):
        for number, token in ((1, "unknown-token-0123456"), (2, known)):
            body = push_body([pushed_commit(f"{number}" * 40, f"[#{number}] via ?token=")])
            answer = receiver.client.post(
                "/github", params={"token": token}, content=body, headers=github_headers(body)
            )
            assert answer.status_code == 202, answer.text
            assert ("queued" in answer.json()) is (token != known)
        assert [d.token for d in receiver.pending()] == ["unknown-token-0123456"]
        assert receiver.store.inbox_count() == 1


def test_under_load_a_queue_that_cannot_keep_a_push_answers_503(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A push the inbox cannot keep is refused with the queue's 503 (the forge redelivers it),
    and the pushes after it are kept again once the queue is back."""

    def broken(pushes: object, *, now: float) -> None:
        raise StoreError("disk full")

    body = push_body([pushed_commit("7" * 40, "[#7] under load")])
    with _busy(receiver):
        with monkeypatch.context() as patched:
            patched.setattr(receiver.store, "accept", broken)
            refused = receiver.client.post("/github", content=body, headers=github_headers(body))
        assert refused.status_code == 503
        assert refused.json() == {"detail": "the queue is unavailable"}
        kept = receiver.client.post("/github", content=body, headers=github_headers(body))
    assert kept.status_code == 202
    assert receiver.store.inbox_count() == 1
