"""Big webhook bodies (over 1 MB) are read a window at a time, to the same push as small ones."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from hookrelay.core.webhook_body import BIG_BODY_BYTES
from hookrelay.core.webhooks import Push, PushedCommit, decode_webhook

HEADERS = {"X-GitHub-Event": "push", "Content-Type": "application/json"}


def _commits(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{n:040x}",
            "message": f"[#1] commit {n} é ✓ " + "x" * 400,
            "timestamp": "2026-01-02T03:04:05Z",
            "url": f"https://example.org/{n}",
            "author": {"name": "Ada", "email": "ada@example.org", "username": "ada"},
            "added": ["a" * 50] * 3,
            "distinct": n % 2 == 0,
        }
        for n in range(count)
    ]


def _expected(commits: list[dict[str, Any]]) -> tuple[PushedCommit, ...]:
    return tuple(
        PushedCommit(
            id=c["id"],
            message=c["message"],
            author_name="Ada",
            author_email="ada@example.org",
            url=c["url"],
            timestamp=c["timestamp"],
            branch="main",
            distinct=c["distinct"],
        )
        for c in commits
    )


ORDERS = {
    "ref-first": lambda commits: {"ref": "refs/heads/main", "repository": {"full_name": "o/r"}, "commits": commits},
    "ref-after-commits": lambda commits: {"commits": commits, "repository": {"full_name": "o/r"}, "ref": "refs/heads/main"},
}  # fmt: skip


@pytest.mark.parametrize("order", list(ORDERS), ids=list(ORDERS))
def test_a_big_push_reads_to_the_same_commits_whatever_the_order(order: str) -> None:
    """A push over the big-body size gives every commit, whether its ref comes first or last."""
    commits = _commits(3000)
    body = json.dumps(ORDERS[order](commits), ensure_ascii=False).encode()
    assert len(body) > BIG_BODY_BYTES
    push = decode_webhook(HEADERS, body)
    assert isinstance(push, Push)
    assert push.repository == "o/r"
    assert push.commits == _expected(commits)


def test_a_big_form_encoded_push_and_a_big_push_that_is_not_utf8_still_read() -> None:
    """The form's payload= field and bytes that are not UTF-8 take the plain path, as before."""
    commits = _commits(3000)
    document = json.dumps(ORDERS["ref-first"](commits))
    form = ("payload=" + quote(document)).encode()
    headers = {**HEADERS, "Content-Type": "application/x-www-form-urlencoded"}
    form_push = decode_webhook(headers, form)
    assert isinstance(form_push, Push)
    assert form_push.commits == _expected(commits)
    raw = document.encode().replace(b"commit 0 ", b"commit 0 \xff ", 1)
    latin_push = decode_webhook(HEADERS, raw)
    assert isinstance(latin_push, Push)
    assert latin_push.commits[0].message.startswith("[#1] commit 0 \ufffd ")
