"""Texts shown on one line, cut to a width, and URLs shown without their password."""

from __future__ import annotations

import pytest

from hookrelay.core.text import TOKEN_SHOWN_AS, one_line, shorten, without_password, without_token


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        ("short", 5, "short"),
        ("longer", 5, "long…"),
        ("a\nb", 2, "a…"),
        ("", 1, ""),
    ],
    ids=["fits", "cut", "newline-kept", "empty"],
)
def test_shorten_cuts_with_an_ellipsis(text: str, limit: int, shown: str) -> None:
    """A text longer than the limit keeps ``limit - 1`` characters and ``…``; whitespace stays."""
    assert shorten(text, limit) == shown
    assert len(shorten(text, limit)) <= limit


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        ("  HTTP 401:\n\tbad  token \r\n", None, "HTTP 401: bad token"),
        ("one\ntwo three", 8, "one two…"),
        ("one\ntwo", 7, "one two"),
        ("\n \t", None, ""),
    ],
    ids=["collapsed", "collapsed-then-cut", "fits-after-collapsing", "only-whitespace"],
)
def test_one_line_collapses_whitespace_then_cuts(text: str, limit: int | None, shown: str) -> None:
    """Each run of whitespace is one space, the ends trimmed, then the line is cut to the limit."""
    assert one_line(text, limit) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://me:s3cret@db.example:5432/q", "postgresql://me:***@db.example:5432/q"),
        (
            "https://me:pa55@tracker.example/services/v5",
            "https://me:***@tracker.example/services/v5",
        ),
        ("postgresql://me:@db/q", "postgresql://me:***@db/q"),
        ("postgresql://me:p@ss@db/q", "postgresql://me:***@db/q"),
        ("postgresql://me@db/q", "postgresql://me@db/q"),
        ("http://host/a:b@c", "http://host/a:b@c"),
        ("sqlite:///var/lib/hookrelay/queue.db", "sqlite:///var/lib/hookrelay/queue.db"),
        ("not a url", "not a url"),
    ],
    ids=[
        "password",
        "tracker-url",
        "empty-password",
        "at-in-password",
        "user-only",
        "at-in-path",
        "sqlite",
        "not-a-url",
    ],
)
def test_without_password_hides_only_the_password(url: str, shown: str) -> None:
    """The password of ``user:password@`` becomes ``***``; the user, host and path stay, and a
    URL without a password (or with ``@`` only in its path) is shown as it is."""
    assert without_password(url) == shown


@pytest.mark.parametrize(
    ("text", "token", "shown"),
    [
        ("HTTP 401: bad token abc, abc", "abc", "HTTP 401: bad token [token], [token]"),
        ("HTTP 401: bad token", "", "HTTP 401: bad token"),
    ],
    ids=["token", "no-token"],
)
def test_without_token_replaces_every_copy(text: str, token: str, shown: str) -> None:
    """Each copy of the token is ``TOKEN_SHOWN_AS``; with no token the text is as it was."""
    assert TOKEN_SHOWN_AS == "[token]"
    assert without_token(text, token) == shown
