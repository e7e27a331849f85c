"""Asking a Tracker target whether a caller's token is one of its own, as data.

The Tracker-compatible ingest takes a token hookrelay knows (``HOOKRELAY_TRACKER_TOKEN``, a
route's, ``HOOKRELAY_INGEST_TOKENS``) or one the target confirms; anything else would make it an
open door for anyone's bodies. Confirming is one read that needs the token:

=========  ======================================  ==========================================
target     request                                 answer
=========  ======================================  ==========================================
v5         ``GET {base}/me`` (Tracker API v5 "Me")  200: ``Confirmed``; 401/403: ``Denied``
v3         ``GET {base}/projects``                  with Tracker's words; anything else (404,
                                                   5xx, no answer): ``Unconfirmed``
=========  ======================================  ==========================================

An ``Unconfirmed`` token may still queue, within a per-token share of pending bytes: a Tracker
that is down must not lose an old script's commits, nor let a stranger fill the disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from hookrelay.core.source_commit import ApiVersion
from hookrelay.core.tracker_api import OutboundRequest, Refused, TrackerTarget, interpret_answer
from hookrelay.core.tracker_errors import ACCESS_DENIED

__all__ = [
    "Confirmed",
    "Denied",
    "TokenVerdict",
    "Unconfirmed",
    "build_token_check",
    "interpret_token_check",
]


@dataclass(frozen=True, slots=True)
class Confirmed:
    """The target answered the token's read: it is one of the target's tokens."""


@dataclass(frozen=True, slots=True)
class Denied:
    """The target refused the token (401/403); ``reason`` is Tracker's own words."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unconfirmed:
    """The target could not say (down, no such resource, a server error); ``reason`` says why."""

    reason: str


TokenVerdict = Confirmed | Denied | Unconfirmed

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def build_token_check(target: TrackerTarget, token: str) -> OutboundRequest:
    """The read that needs ``token``: ``GET /me`` on v5, ``GET /projects`` on v3."""
    resource = "me" if target.version is ApiVersion.V5 else "projects"
    return OutboundRequest(
        method="GET",
        url=f"{target.base_url}/{resource}",
        headers=(("X-TrackerToken", token), ("Accept", target.version.content_type)),
        body=b"",
    )


def interpret_token_check(status: int, headers: Mapping[str, str], body: bytes) -> TokenVerdict:
    """Read the target's answer to ``build_token_check`` (see the module's table)."""
    if 200 <= status < 300:
        return Confirmed()
    if status in {401, 403}:
        reason = _tracker_words(status, headers, body).removeprefix(f"HTTP {status}")
        return Denied(reason.removeprefix(": ") or ACCESS_DENIED)
    return Unconfirmed(f"the Tracker target answered HTTP {status}")


def _tracker_words(status: int, headers: Mapping[str, str], body: bytes) -> str:
    """Tracker's error text, read as the delivery path reads it (one line, bounded)."""
    # ``now`` only matters for a Retry-After date, which a 401/403 does not carry.
    outcome = interpret_answer(status, headers, body, now=_EPOCH)
    return outcome.reason if isinstance(outcome, Refused) else ""
