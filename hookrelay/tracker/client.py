"""Posting one ``source_commit`` to Tracker over HTTP: a thin edge around the core.

The core builds the request and reads the answer (``hookrelay.core.tracker_api``); this module
only moves bytes with an ``httpx.Client`` it is handed. Redirects are never followed, so the
token in ``X-TrackerToken`` cannot travel to another host; TLS is verified; the token is never
put in a URL, an exception message or a log line.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import (
    OutboundRequest,
    Outcome,
    RetryLater,
    TrackerTarget,
    build_rendered_request,
    build_source_commit_request,
    interpret_answer,
)

__all__ = ["DEFAULT_TIMEOUT", "TrackerClient", "make_http_client"]

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
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
    """Posts ``source_commit``s to one Tracker target with one token."""

    def __init__(
        self,
        http: httpx.Client,
        target: TrackerTarget,
        token: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._http = http
        self._target = target
        self._token = token
        self._clock = clock

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
        try:
            with self._http.stream(
                request.method, request.url, headers=dict(request.headers), content=request.body
            ) as response:
                answer = bytearray()
                for chunk in response.iter_bytes():
                    answer += chunk
                    if len(answer) >= _MAX_ANSWER:
                        break
                outcome = interpret_answer(
                    response.status_code, response.headers, bytes(answer), now=self._clock()
                )
        except httpx.TimeoutException as exc:
            return RetryLater(0, f"Tracker did not answer in time ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            # httpx messages name the URL at most, never headers, so the token stays out.
            return RetryLater(0, f"could not reach Tracker: {type(exc).__name__}: {exc}")
        return outcome
