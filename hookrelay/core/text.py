"""How hookrelay shows a text it did not write: on one line, cut to a width, without a password.

Tracker's answers, exception messages and commit subjects end up in one-line places (a log line,
the CLI's table, a 4xx reason, a hook's stderr); URLs with credentials end up in messages.
"""

from __future__ import annotations

import re

__all__ = ["TOKEN_SHOWN_AS", "one_line", "shorten", "without_password", "without_token"]

_ELLIPSIS = "…"

TOKEN_SHOWN_AS = "[token]"  # noqa: S105 - a placeholder, not a secret
"""What a Tracker token is replaced with where a text that may repeat it is shown (a hook's log
and stderr, Tracker's answer kept as a delivery's error). The server's log redaction writes
``hookrelay.logs.REDACTED`` instead, for any secret it hides, not only tokens."""


def shorten(text: str, limit: int) -> str:
    """``text`` as it is if it has at most ``limit`` characters, else its first ``limit - 1``
    and ``…``."""
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` with each run of whitespace (newlines too) made one space, the ends trimmed,
    and cut to ``limit`` characters with ``shorten`` if a limit is given."""
    line = " ".join(text.split())
    return line if limit is None else shorten(line, limit)


# The authority of ``scheme://user:password@host/…`` ends at the first "/", "?" or "#".
_AUTHORITY_END = re.compile(r"[/?#]")


def without_password(url: str) -> str:
    """``url`` with the password of a ``user:password@`` replaced by ``***``, for messages;
    any other URL (or text) as it is."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    end = _AUTHORITY_END.search(rest)
    authority, tail = (rest[: end.start()], rest[end.start() :]) if end else (rest, "")
    userinfo, at, host = authority.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    if not at or not colon:
        return url
    return f"{scheme}://{user}:***@{host}{tail}"


def without_token(text: str, token: str) -> str:
    """``text`` with each occurrence of ``token`` replaced by ``TOKEN_SHOWN_AS`` (no token: as
    it is)."""
    return text.replace(token, TOKEN_SHOWN_AS) if token else text
