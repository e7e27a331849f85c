"""Posting one ``source_commit`` to Tracker over HTTP: a thin edge around the core.

The core builds the request and reads the answer (``hookrelay.core.tracker_api``); this module
only moves bytes with an ``httpx.Client`` it is handed. Redirects are never followed, so the
token in ``X-TrackerToken`` cannot travel to another host; TLS is verified; the token is never
put in a URL, an exception message or a log line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime

import httpx

from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import (
    Delivered,
    OutboundRequest,
    Outcome,
    RetryLater,
    TrackerTarget,
    build_rendered_request,
    build_source_commit_request,
    interpret_answer,
    is_usable_token,
    token_fingerprint,
)
from hookrelay.exceptions import ConfigError

__all__ = ["DEFAULT_ANSWER_WITHIN", "DEFAULT_TIMEOUT", "TrackerClient", "make_http_client"]

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
# httpx bounds each wait (connect, each read), not a whole answer: a Tracker that trickles its
# answer a byte at a time would hold a push, or outlive a worker's lease and be posted twice.
DEFAULT_ANSWER_WITHIN = 30.0
_MAX_ANSWER = 64 * 1024  # enough for any error text; a huge answer is not read whole


def make_http_client(timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> httpx.Client:
    """An httpx client as the Tracker client wants it: TLS verified, no redirects, pooled."""
    return httpx.Client(
        timeout=timeout,
        follow_redirects=False,
        verify=True,
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
        headers={"User-Agent": "hookrelay"},
    )


class TrackerClient:
    """Posts ``source_commit``s to one Tracker target with one token.

    A token that cannot travel in an HTTP header (empty, spaces, control or non-ASCII
    characters) is a ``ConfigError`` here, whose message does not repeat it. An answer is read
    for at most ``answer_within`` seconds after the request starts (plus one read timeout): what
    arrived by then is classified, so a trickling answer cannot hold the caller.
    """

    def __init__(
        self,
        http: httpx.Client,
        target: TrackerTarget,
        token: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        answer_within: float = DEFAULT_ANSWER_WITHIN,
    ) -> None:
        if not is_usable_token(token):
            raise ConfigError(
                "the Tracker token must be visible ASCII characters with no spaces"
                f" (fingerprint {token_fingerprint(token)})"
            )
        self._http = http
        self._target = target
        self._token = token
        self._clock = clock
        self._answer_within = answer_within

    @property
    def target(self) -> TrackerTarget:
        """The Tracker base URL and API version this client posts to."""
        return self._target

    def post(self, commit: SourceCommit) -> Outcome:
        """Render and post one commit; every failure becomes an ``Outcome``, never an exception."""
        return self._send(build_source_commit_request(self._target, self._token, commit))

    def post_rendered(self, body: bytes) -> Outcome:
        """Post a body already rendered for this target's API version (as the queue keeps it)."""
        return self._send(build_rendered_request(self._target, self._token, body))

    def _send(self, request: OutboundRequest) -> Outcome:
        stop_reading_at = time.monotonic() + self._answer_within
        try:
            # follow_redirects per request: whatever client we were handed, a redirect must
            # not carry the token to another host (it is classified as Refused instead).
            with self._http.stream(
                request.method,
                request.url,
                headers=dict(request.headers),
                content=request.body,
                follow_redirects=False,
            ) as response:
                answer = _read_answer(response, stop_reading_at)
                outcome = interpret_answer(
                    response.status_code, response.headers, answer, now=self._clock()
                )
        except httpx.TimeoutException as exc:
            return RetryLater(0, f"Tracker did not answer in time ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            # httpx messages name the URL at most, never headers; the token was checked to be
            # a valid header value, so no error quotes it (_without_token strips it regardless).
            outcome = RetryLater(0, f"could not reach Tracker: {type(exc).__name__}: {exc}")
        return self._without_token(outcome)

    def _without_token(self, outcome: Outcome) -> Outcome:
        # Tracker's error text is kept as Tracker's own words, but a server that echoes the
        # token back (a proxy, a misconfigured stand-in) must not get it into the dead letters.
        if isinstance(outcome, Delivered) or self._token not in outcome.reason:
            return outcome
        return replace(outcome, reason=outcome.reason.replace(self._token, "[token]"))


def _read_answer(response: httpx.Response, stop_at: float) -> bytes:
    """Up to ``_MAX_ANSWER`` bytes of the body, or what arrived before the connection broke or
    ``stop_at`` (a ``time.monotonic()`` value) passed.

    Once the status line has arrived, Tracker has said what it did with the commit: a 2xx cut
    off mid-body is still delivered (posting it again would post it twice), and a 4xx/5xx is
    classified on the error text that did arrive.
    """
    answer = bytearray()
    with suppress(httpx.RequestError):
        for chunk in response.iter_bytes():
            answer += chunk
            if len(answer) >= _MAX_ANSWER or time.monotonic() >= stop_at:
                break
    return bytes(answer)
