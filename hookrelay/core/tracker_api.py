"""Talking to Tracker's ``source_commits`` resource, as data: build a request, read an answer.

The client edge (``hookrelay/tracker/client.py``) only moves the bytes these functions describe.

Answers (Tracker API v3/v5 documentation, "Response Codes"; RFC 9110 §15 and §10.2.3):

=====================================  ===========================================================
status                                 outcome
=====================================  ===========================================================
2xx                                    ``Delivered`` (whatever the body: Tracker has the commit)
408, 425, 429, 5xx                     ``RetryLater`` with ``Retry-After`` (seconds or HTTP date)
400, 401, 403, 404, 422, other 4xx     ``Refused`` with Tracker's own error text
3xx                                    ``Refused``: redirects are never followed, so the token
                                       cannot travel to another host
=====================================  ===========================================================
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from hookrelay.core.source_commit import ApiVersion, SourceCommit, render
from hookrelay.core.text import one_line, without_password
from hookrelay.exceptions import ConfigError

__all__ = [
    "DEFAULT_TRACKER_URL",
    "MAX_COMMIT_ID_LENGTH",
    "MAX_TOKEN_LENGTH",
    "Delivered",
    "OutboundRequest",
    "Outcome",
    "Refused",
    "RetryLater",
    "TrackerTarget",
    "build_rendered_request",
    "build_source_commit_request",
    "interpret_answer",
    "is_usable_commit_id",
    "is_usable_token",
    "parse_retry_after",
    "token_fingerprint",
]

DEFAULT_TRACKER_URL = "https://www.pivotaltracker.com/services/v5"

_RETRYABLE = frozenset({408, 425, 429})
_MAX_REASON = 300


@dataclass(frozen=True, slots=True)
class TrackerTarget:
    """A Tracker API base URL (``…/services/v3`` or ``…/services/v5``) and the version it names."""

    base_url: str
    version: ApiVersion

    @classmethod
    def parse(cls, url: str) -> TrackerTarget:
        """Read a base URL; a URL that is not http(s), carries credentials or a query, or names
        no API version is a ConfigError (whose message never repeats a password)."""
        base = url.strip().rstrip("/")
        parts = urlsplit(base)
        shown = without_password(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ConfigError(f"tracker URL {shown!r} is not an http(s) URL")
        if parts.username is not None or parts.password is not None:
            # It would be written wherever the target is shown (logs, the delivery list).
            raise ConfigError(
                f"tracker URL {shown!r} must not carry a user or password: "
                "Tracker takes its token in X-TrackerToken"
            )
        if parts.query or parts.fragment:
            raise ConfigError(f"tracker URL {shown!r} must not have a query or fragment")
        for version in ApiVersion:
            if parts.path.endswith(f"/services/{version.value}"):
                return cls(base_url=base, version=version)
        raise ConfigError(
            f"tracker URL {shown!r} must end in /services/v3 or /services/v5 (the API version)"
        )

    @property
    def source_commits_url(self) -> str:
        """Where one ``source_commit`` is posted."""
        return f"{self.base_url}/source_commits"


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    """An HTTP request described as data."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def build_source_commit_request(
    target: TrackerTarget, token: str, commit: SourceCommit
) -> OutboundRequest:
    """Describe the POST that gives ``commit`` to Tracker, the token in ``X-TrackerToken`` only."""
    return build_rendered_request(target, token, render(commit, target.version))


def build_rendered_request(target: TrackerTarget, token: str, body: bytes) -> OutboundRequest:
    """Describe the POST of an already rendered ``source_commit`` body (as the queue keeps it)."""
    return OutboundRequest(
        method="POST",
        url=target.source_commits_url,
        headers=(
            ("X-TrackerToken", token),
            ("Content-Type", target.version.content_type),
            ("Accept", target.version.content_type),
        ),
        body=body,
    )


_TOKEN = re.compile(r"[\x21-\x7e]+")

MAX_TOKEN_LENGTH = 256
"""Longer than any Tracker token (32 hex characters) by far; longer ones are refused."""

MAX_COMMIT_ID_LENGTH = 255
"""A git id is 40 or 64 characters, an svn revision a number; 255 leaves room for any forge."""


def is_usable_token(token: str) -> bool:
    """Whether ``token`` can travel in an HTTP header as it is: 1 to 256 visible ASCII
    characters, no spaces, no control characters. The one token rule: the settings, the
    client, the installer and every endpoint that takes a token use it."""
    return len(token) <= MAX_TOKEN_LENGTH and _TOKEN.fullmatch(token) is not None


def is_usable_commit_id(commit_id: str) -> bool:
    """Whether ``commit_id`` can be queued and shown: 1 to 255 printable characters (no
    control characters, no line breaks, no unpaired surrogates)."""
    # str.isprintable() is False for controls (Cc), format characters and surrogates (Cs).
    return 0 < len(commit_id) <= MAX_COMMIT_ID_LENGTH and commit_id.isprintable()


def token_fingerprint(token: str) -> str:
    """A short, one-way name for a token: safe to store, log and compare, useless to an attacker."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Delivered:
    """Tracker took the commit."""

    status: int


@dataclass(frozen=True, slots=True)
class Refused:
    """Tracker refused the commit for good; ``reason`` is Tracker's own text where it gave one."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class RetryLater:
    """Tracker could not take the commit now; ``retry_after`` is seconds, when Tracker said."""

    status: int
    reason: str
    retry_after: float | None = None


Outcome = Delivered | Refused | RetryLater


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Read ``Retry-After`` (delay-seconds or HTTP date, RFC 9110 §10.2.3) as seconds from now."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None or now.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _error_text(body: bytes, content_type: str) -> str:
    """Tracker's own words from an error body: ``<errors><error>``, a JSON error, or plain text."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return ""
    if text.startswith("<"):
        try:
            root = SafeET.fromstring(text, forbid_dtd=True)
        except (SafeET.ParseError, DefusedXmlException, ValueError, LookupError):
            return one_line(text, _MAX_REASON)
        errors = [e.text.strip() for e in root.iter("error") if e.text and e.text.strip()]
        return one_line("; ".join(errors) if errors else "".join(root.itertext()), _MAX_REASON)
    if text.startswith(("{", "[")) or "json" in content_type:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            return one_line(text, _MAX_REASON)
        if isinstance(document, dict):
            # v5 errors: {"code", "kind": "error", "error", "general_problem", "possible_fix"}
            parts = [
                str(document[key])
                for key in ("error", "general_problem", "possible_fix")
                if document.get(key)
            ]
            if parts:
                return one_line(" ".join(parts), _MAX_REASON)
        return one_line(text, _MAX_REASON)
    return one_line(text, _MAX_REASON)


def interpret_answer(
    status: int, headers: Mapping[str, str], body: bytes, *, now: datetime
) -> Outcome:
    """Classify Tracker's answer to a ``source_commit`` POST (see the module's table)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    if 200 <= status < 300:
        return Delivered(status)
    detail = _error_text(body, lowered.get("content-type", ""))
    if status in _RETRYABLE or status >= 500:
        retry_after = parse_retry_after(lowered.get("retry-after"), now)
        return RetryLater(status, _reason(status, detail), retry_after)
    if 300 <= status < 400:
        location = lowered.get("location", "?")
        return Refused(status, f"HTTP {status}: Tracker redirected to {location}; not followed")
    return Refused(status, _reason(status, detail))


def _reason(status: int, detail: str) -> str:
    return f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
