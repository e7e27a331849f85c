"""Tracker requests are built as documented and its answers classified the way a user expects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hookrelay.core.source_commit import ApiVersion, SourceCommit
from hookrelay.core.tracker_api import (
    Delivered,
    Refused,
    RetryLater,
    TrackerTarget,
    build_source_commit_request,
    interpret_answer,
    is_usable_commit_id,
    is_usable_token,
    parse_retry_after,
    token_fingerprint,
)
from hookrelay.exceptions import ConfigError

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "base", "version"),
    [
        (
            "https://www.pivotaltracker.com/services/v5",
            "https://www.pivotaltracker.com/services/v5",
            ApiVersion.V5,
        ),
        ("http://127.0.0.1:8080/services/v3/", "http://127.0.0.1:8080/services/v3", ApiVersion.V3),
        (
            "  https://relay.example/tracker/services/v5  ",
            "https://relay.example/tracker/services/v5",
            ApiVersion.V5,
        ),
    ],
    ids=["tracker v5", "v3 trailing slash", "v5 behind a prefix"],
)
def test_target_names_its_version(url: str, base: str, version: ApiVersion) -> None:
    """A base URL ending in /services/v3 or /services/v5 names the API version."""
    target = TrackerTarget.parse(url)
    assert (target.base_url, target.version) == (base, version)
    assert target.source_commits_url == base + "/source_commits"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x/services/v5",
        "https://x/services/v4",
        "https://x/",
        "not a url",
        "https://x/services/v5?token=t",
    ],
    ids=["ftp", "v4", "no version", "garbage", "query"],
)
def test_bad_targets(url: str) -> None:
    """A URL that is not http(s), carries credentials or names no API version stops with a
    ConfigError naming it (its password masked)."""
    with pytest.raises(ConfigError, match="tracker URL") as caught:
        TrackerTarget.parse(url)
    assert "secret" not in str(caught.value)


def test_request_carries_token_in_header_only() -> None:
    """The request puts the token in X-TrackerToken and nowhere else."""
    commit = SourceCommit.of(commit_id="c1", message="[#1]", author="a")
    request = build_source_commit_request(
        TrackerTarget.parse("http://t/services/v5"), "SECRET", commit
    )
    assert request.method == "POST"
    assert request.url == "http://t/services/v5/source_commits"
    assert dict(request.headers)["X-TrackerToken"] == "SECRET"
    assert dict(request.headers)["Content-Type"] == "application/json"
    assert "SECRET" not in request.url
    assert b"SECRET" not in request.body


def test_token_fingerprint_is_stable_and_one_way() -> None:
    """A token's fingerprint is stable, short, and does not contain the token."""
    assert token_fingerprint("abc") == token_fingerprint("abc") != token_fingerprint("abd")
    assert len(token_fingerprint("abc")) == 16
    assert "abc" not in token_fingerprint("abc")


ANSWERS = [
    ("200 xml", 200, {}, b"<source_commit/>", Delivered(200)),
    ("200 garbage", 200, {}, b"\x00garbage", Delivered(200)),
    ("201", 201, {}, b"", Delivered(201)),
    (
        "401 plain text",
        401,
        {"Content-Type": "text/plain"},
        b"Access Denied.",
        Refused(401, "HTTP 401: Access Denied."),
    ),
    (
        "422 v3 errors",
        422,
        {"Content-Type": "application/xml"},
        b"<errors><error>Message can't be blank</error><error>Bad id</error></errors>",
        Refused(422, "HTTP 422: Message can't be blank; Bad id"),
    ),
    (
        "400 v5 error",
        400,
        {"Content-Type": "application/json"},
        b'{"code": "invalid_parameter", "kind": "error", "error": "One or more request parameters was missing or invalid.", "general_problem": "commit_id is missing"}',
        Refused(
            400,
            "HTTP 400: One or more request parameters was missing or invalid. commit_id is missing",
        ),
    ),
    ("403 empty", 403, {}, b"", Refused(403, "HTTP 403")),
    (
        "404 html",
        404,
        {"Content-Type": "text/html"},
        b"<html><body>Not\nFound</body></html>",
        Refused(404, "HTTP 404: Not Found"),
    ),
    (
        "302",
        302,
        {"Location": "https://evil.example/"},
        b"",
        Refused(302, "HTTP 302: Tracker redirected to https://evil.example/; not followed"),
    ),
    ("503", 503, {}, b"down", RetryLater(503, "HTTP 503: down", None)),
    ("429 seconds", 429, {"Retry-After": "120"}, b"", RetryLater(429, "HTTP 429", 120.0)),
    (
        "429 date",
        429,
        {"retry-after": "Sun, 22 Nov 2026 12:01:30 GMT"},
        b"",
        RetryLater(429, "HTTP 429", 90.0),
    ),
    ("408", 408, {}, b"", RetryLater(408, "HTTP 408")),
    ("425", 425, {}, b"", RetryLater(425, "HTTP 425")),
    ("502 bad retry-after", 502, {"Retry-After": "soon"}, b"", RetryLater(502, "HTTP 502")),
]


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"), [a[1:] for a in ANSWERS], ids=[a[0] for a in ANSWERS]
)
def test_answers(status: int, headers: dict[str, str], body: bytes, expected: object) -> None:
    """Each kind of Tracker answer is delivered, refused for good with Tracker's text, or retried."""
    assert interpret_answer(status, headers, body, now=NOW) == expected


def test_reason_is_one_bounded_line() -> None:
    """A huge multi-line error body becomes one line of bounded length."""
    outcome = interpret_answer(422, {}, b"line\n" * 10_000, now=NOW)
    assert isinstance(outcome, Refused)
    assert "\n" not in outcome.reason
    assert len(outcome.reason) <= 310


def test_hostile_error_xml_is_not_expanded() -> None:
    """An error body with entity declarations is shown as text, never expanded."""
    body = b'<!DOCTYPE e [<!ENTITY x "boom">]><errors><error>&x;</error></errors>'
    outcome = interpret_answer(422, {}, body, now=NOW)
    assert isinstance(outcome, Refused)
    assert "boom</error>" not in outcome.reason or "<!ENTITY" in outcome.reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("0", 0.0),
        ("  30 ", 30.0),
        ("Sun, 22 Nov 2026 11:00:00 GMT", 0.0),
        ("-5", None),
        ("1.5", None),
    ],
    ids=["absent", "zero", "spaces", "date in the past", "negative", "fraction"],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    """Retry-After is delay-seconds or an HTTP date; anything else is ignored."""
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b"{" + b'"a":[' * 50_000,
        b'<?xml version="1.0" encoding="bogus-enc"?><errors><error>x</error></errors>',
        b'<?xml version="1.0" encoding="EUC-JP"?><errors/>',
    ],
    ids=["nested json", "nested json object", "unknown xml encoding", "multi-byte xml encoding"],
)
def test_strange_error_bodies_are_text_not_crashes(body: bytes) -> None:
    """However an error body is built, the answer is classified and the reason is one line."""
    outcome = interpret_answer(422, {"Content-Type": "application/json"}, body, now=NOW)
    assert isinstance(outcome, Refused)
    assert "\n" not in outcome.reason


TOKENS = [
    ("tracker hex", "a" * 32, True),
    ("visible ascii", "tok-EN_1.2~!", True),
    ("256 characters", "t" * 256, True),
    ("257 characters", "t" * 257, False),
    ("empty", "", False),
    ("space inside", "a b", False),
    ("tab", "a\tb", False),
    ("crlf", "a\r\nX-Evil: 1", False),
    ("nul", "a\x00", False),
    ("non-ascii", "tökén", False),
    ("del", "a\x7f", False),
]


@pytest.mark.parametrize(("token", "usable"), [t[1:] for t in TOKENS], ids=[t[0] for t in TOKENS])
def test_the_one_token_rule(token: str, usable: bool) -> None:
    """A usable token is 1 to 256 visible ASCII characters: the rule every door applies."""
    assert is_usable_token(token) is usable


COMMIT_IDS = [
    ("git sha-1", "0123456789abcdef0123456789abcdef01234567", True),
    ("svn revision", "42", True),
    ("with a space", "r 42", True),
    ("255 characters", "c" * 255, True),
    ("256 characters", "c" * 256, False),
    ("8000 characters", "c" * 8000, False),
    ("empty", "", False),
    ("newline", "abc\ndef", False),
    ("nul", "abc\x00", False),
    ("zero-width space", "abc\u200bdef", False),
    ("lone surrogate", "abc\ud800", False),
    ("emoji", "release-🚀", True),
]


@pytest.mark.parametrize(
    ("commit_id", "usable"), [c[1:] for c in COMMIT_IDS], ids=[c[0] for c in COMMIT_IDS]
)
def test_the_one_commit_id_rule(commit_id: str, usable: bool) -> None:
    """A usable commit id is 1 to 255 printable characters."""
    assert is_usable_commit_id(commit_id) is usable
