"""A caller's token is checked with one read that needs it, and the answer is read as Tracker meant."""

from __future__ import annotations

import pytest

from hookrelay.core.token_check import (
    Confirmed,
    Denied,
    TokenVerdict,
    Unconfirmed,
    build_token_check,
    interpret_token_check,
)
from hookrelay.core.tracker_api import TrackerTarget


@pytest.mark.parametrize(
    ("base", "url", "accept"),
    [
        ("http://t.example/services/v5", "http://t.example/services/v5/me", "application/json"),
        (
            "http://t.example/services/v3",
            "http://t.example/services/v3/projects",
            "application/xml",
        ),
    ],
    ids=["v5 asks /me", "v3 asks /projects"],
)
def test_the_check_is_a_read_that_needs_the_token(base: str, url: str, accept: str) -> None:
    """v5 asks ``GET /me``, v3 ``GET /projects``, the token in ``X-TrackerToken`` only."""
    request = build_token_check(TrackerTarget.parse(base), "s3cret")
    assert (request.method, request.url, request.body) == ("GET", url, b"")
    assert dict(request.headers) == {"X-TrackerToken": "s3cret", "Accept": accept}


ANSWERS = [
    ("200", 200, {}, b'{"kind":"me"}', Confirmed()),
    ("401 plain", 401, {"Content-Type": "text/plain"}, b"Access Denied.", Denied("Access Denied.")),
    (
        "403 v5 error",
        403,
        {"Content-Type": "application/json"},
        b'{"code":"unauthorized_operation","kind":"error","error":"Not allowed."}',
        Denied("Not allowed."),
    ),
    ("401 empty", 401, {}, b"", Denied("Access Denied.")),
    ("404 no /me", 404, {}, b"nope", Unconfirmed("the Tracker target answered HTTP 404")),
    ("503 down", 503, {}, b"", Unconfirmed("the Tracker target answered HTTP 503")),
    ("302 redirect", 302, {"Location": "http://x/"}, b"", Unconfirmed("the Tracker target answered HTTP 302")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "headers", "body", "verdict"), [a[1:] for a in ANSWERS], ids=[a[0] for a in ANSWERS]
)
def test_answers_are_confirmed_denied_or_unconfirmed(
    status: int, headers: dict[str, str], body: bytes, verdict: TokenVerdict
) -> None:
    """2xx confirms, 401/403 denies with Tracker's words, anything else cannot say."""
    assert interpret_token_check(status, headers, body) == verdict
