"""A web page cannot make its visitor's browser queue commits: a request with ``Origin`` is 403
on every webhook and ingest endpoint, even with no webhook secret (the loopback default)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tests.conftest import FIXTURES
from tests.web.conftest import TOKEN, ReceiverFactory, push_body, pushed_commit

PUSH = push_body([pushed_commit("b" * 40, "[Delivers #1] posted by a web page")])
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
V3 = b"<source_commit><message>[#1] m</message><commit_id>c1</commit_id></source_commit>"

# What an HTML <form method="post"> on another site can send: no custom header, form-encoded.
DOORS = [
    ("/github", urlencode({"payload": PUSH.decode()}).encode(), FORM, {}),
    (
        "/gitlab",
        (FIXTURES / "forges/gitlab/push-event.json").read_bytes(),
        {"Content-Type": "application/json", "X-Gitlab-Event": "Push Hook"},
        {},
    ),
    (
        "/services/v3/github_commits",
        urlencode({"payload": PUSH.decode()}).encode(),
        FORM,
        {"token": TOKEN},
    ),
    ("/services/v3/source_commits", V3, FORM, {"token": TOKEN}),
    ("/services/v4/source_commits", V3, FORM, {"token": TOKEN}),
    (
        "/services/v5/source_commits",
        json.dumps({"source_commit": {"commit_id": "c5", "message": "[#1] m"}}).encode(),
        FORM,
        {"token": TOKEN},
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "headers", "params"),
    DOORS,
    ids=["github", "gitlab", "github-commits", "v3", "v4", "v5"],
)
def test_a_browsers_post_is_refused_and_queues_nothing(
    make_receiver: ReceiverFactory,
    path: str,
    body: bytes,
    headers: dict[str, str],
    params: dict[str, str],
) -> None:
    """With an Origin header (any browser's POST) the request is 403 with one line and nothing
    is queued; the same request without it, as a forge or script sends it, is accepted."""
    with make_receiver(github_secret=None, all_commits=True) as receiver:
        for origin in ("https://evil.example", "null", receiver.url):
            answer = receiver.client.post(
                path, content=body, headers={**headers, "Origin": origin}, params=params
            )
            assert answer.status_code == 403, answer.text
            assert "web browser" in answer.text
            assert receiver.queued() == 0
        accepted = receiver.client.post(path, content=body, headers=headers, params=params)
        assert accepted.status_code in {200, 202}, accepted.text
        assert receiver.queued() > 0
