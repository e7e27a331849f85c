"""Posting one ``source_commit`` to Tracker over HTTP: a thin edge around the core.

The core builds the request and reads the answer (``hookrelay.core.tracker_api``); this module
only moves bytes with an ``httpx.Client`` it is handed (with the client ``make_http_client``
makes, through its transport's connection pool directly: httpx's request and response objects
cost as much CPU as the exchange they wrap). Redirects are never followed, so the
token in ``X-TrackerToken`` cannot travel to another host; TLS is verified; the token is never
put in a URL, an exception message or a log line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, suppress
from dataclasses import replace
from datetime import UTC, datetime

import httpcore
import httpx

from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.text import without_token
from hookrelay.core.tracker_api import (
    Delivered,
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
from hookrelay.tracker.deadline import DeadlineTransport, within

__all__ = [
    "DEFAULT_ANSWER_WITHIN",
    "DEFAULT_TIMEOUT",
    "TrackerClient",
    "TrackerHttp",
    "make_http_client",
]

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
# httpx bounds each wait (connect, each read), not a whole answer, and a read timeout starts again
# on every byte: ``answer_within`` is one deadline for the whole exchange (``deadline.py``), so a
# Tracker that trickles its answer cannot hold a push, or outlive a worker's lease.
DEFAULT_ANSWER_WITHIN = 30.0
_MAX_ANSWER = 64 * 1024  # enough for any error text; a huge answer is not read whole
_DRAIN_DELIVERED = 0.1  # seconds to read a 2xx body after the delivery is known
# What cannot reach Tracker or breaks off its answer, in httpcore's terms (httpx's have the same
# names and texts); a deadline that passes is an httpcore.TimeoutException.
_UNREACHABLE = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
)


class TrackerHttp(httpx.Client):
    """The httpx client ``make_http_client`` makes, which can also say which of its transports
    carries a URL (``direct``), so the Tracker client can post through that transport's pool
    without httpx's per-request objects around it."""

    def direct(self, url: httpx.URL) -> DeadlineTransport | None:
        """The ``DeadlineTransport`` that would carry a request to ``url``, or None when httpx
        would use another (a proxy mounted for its host)."""
        transport = self._transport_for_url(url)
        return transport if isinstance(transport, DeadlineTransport) else None


def make_http_client(
    timeout: httpx.Timeout = DEFAULT_TIMEOUT, *, connections: int = 32
) -> TrackerHttp:
    """An httpx client as the Tracker client wants it: TLS verified, no redirects, pooled
    (``connections`` kept alive, one per post in flight), each exchange within its deadline."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return TrackerHttp(
        timeout=timeout,
        follow_redirects=False,
        transport=DeadlineTransport(limits=limits),
        headers={"User-Agent": "hookrelay"},
    )


class TrackerClient:
    """Posts ``source_commit``s to one Tracker target with one token.

    A token that cannot travel in an HTTP header (empty, spaces, control or non-ASCII
    characters) is a ``ConfigError`` here, whose message does not repeat it. One post, from
    connect to the last byte it needs, ends within ``answer_within`` seconds however slowly
    Tracker answers (with a client from ``make_http_client``; with another client only the
    reading of the answer's body is cut off at that time): what arrived by then is classified.
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
        # What every post to this target with this token shares, built once (the core's rule).
        request = build_rendered_request(target, token, b"")
        self._method = request.method
        self._url = httpx.URL(request.url)
        self._headers = dict(request.headers)
        # Through the pool of the client's own transport when it has one for this URL: the
        # same request on the same connections, for half the CPU of ``httpx.Client.send``.
        self._direct = http.direct(self._url) if isinstance(http, TrackerHttp) else None
        if self._direct is not None:
            sent = http.build_request(self._method, self._url, headers=self._headers)
            self._raw_method = self._method.encode("ascii")
            self._raw_url = httpcore.URL(
                scheme=self._url.raw_scheme,
                host=self._url.raw_host,
                port=self._url.port,
                target=self._url.raw_path,
            )
            # As httpx would send them (its defaults, the client's, the request's) but the
            # body's length, which each post adds.
            self._raw_headers = [
                pair for pair in sent.headers.raw if pair[0].lower() != b"content-length"
            ]
            self._timeouts = http.timeout.as_dict()

    @property
    def target(self) -> TrackerTarget:
        """The Tracker base URL and API version this client posts to."""
        return self._target

    def post(self, commit: SourceCommit) -> Outcome:
        """Render and post one commit; every failure becomes an ``Outcome``, never an exception."""
        request = build_source_commit_request(self._target, self._token, commit)
        with _Exchange(self, request.body) as outcome:
            return outcome

    def post_rendered(self, body: bytes) -> Outcome:
        """Post a body already rendered for this target's API version (as the queue keeps it)."""
        with self.answer_to(body) as outcome:
            return outcome

    def answer_to(self, body: bytes) -> AbstractContextManager[Outcome]:
        """Post a rendered body; the block gets Tracker's answer as soon as it is known.

        A 2xx is known on its status line: the block runs (and can record the delivery) before
        the body is read, so a crash while the body arrives cannot post the commit twice.
        The rest of a 2xx body is read afterwards (bounded, within the deadline) only so the
        connection can be reused. Other answers are classified on their (bounded) error text.
        """
        return _Exchange(self, body)

    def _send(
        self, body: bytes, deadline: float
    ) -> tuple[httpx.Response | httpcore.Response | None, Outcome]:
        """Post ``body``; the response (open, for a 2xx whose body is still to read) and what
        it means."""
        response: httpx.Response | httpcore.Response | None = None
        try:
            if self._direct is not None:
                headers = [*self._raw_headers, (b"Content-Length", b"%d" % len(body))]
                response = self._direct.open(
                    self._raw_method, self._raw_url, headers, body, self._timeouts
                )
                status = response.status
            else:
                # follow_redirects per request: whatever client we were handed, a redirect
                # must not carry the token to another host (it is classified as Refused).
                request = self._http.build_request(
                    self._method, self._url, headers=self._headers, content=body
                )
                response = self._http.send(request, stream=True, follow_redirects=False)
                status = response.status_code
            if 200 <= status < 300:
                outcome: Outcome = Delivered(status)
            else:
                # An error's text is read as httpx reads it (Content-Encoding undone).
                answer = (
                    response
                    if isinstance(response, httpx.Response)
                    else httpx.Response(status, headers=response.headers, stream=_Stream(response))
                )
                text = _read_answer(answer, deadline)
                outcome = interpret_answer(status, answer.headers, text, now=self._clock())
        except (httpx.TimeoutException, httpcore.TimeoutException) as exc:
            outcome = RetryLater(0, f"Tracker did not answer in time ({type(exc).__name__})")
        except (httpx.HTTPError, *_UNREACHABLE) as exc:
            # The messages name the URL at most, never headers; the token was checked to be a
            # valid header value, so no error quotes it (_without_token strips it too).
            outcome = RetryLater(0, f"could not reach Tracker: {type(exc).__name__}: {exc}")
        except BaseException:
            if response is not None:
                response.close()
            raise
        return response, self._without_token(outcome)

    def _without_token(self, outcome: Outcome) -> Outcome:
        # Tracker's error text is kept as Tracker's own words, but a server that echoes the
        # token back (a proxy, a misconfigured stand-in) must not get it into the dead letters.
        if isinstance(outcome, Delivered) or self._token not in outcome.reason:
            return outcome
        return replace(outcome, reason=without_token(outcome.reason, self._token))


class _Exchange:
    """One post, as ``answer_to`` hands it to a ``with`` block: posted on entering (within
    the client's deadline), its response closed on leaving, after reading what is left of a
    2xx body if the block ended normally. (A class rather than a generator: the worker runs
    one for every commit.)"""

    __slots__ = ("_body", "_client", "_deadline", "_outcome", "_response")

    _response: httpx.Response | httpcore.Response | None

    def __init__(self, client: TrackerClient, body: bytes) -> None:
        self._client = client
        self._body = body

    def __enter__(self) -> Outcome:
        self._deadline = within(self._client._answer_within)
        deadline = self._deadline.__enter__()
        try:
            self._response, self._outcome = self._client._send(self._body, deadline)
        except BaseException:
            self._deadline.__exit__(None, None, None)
            raise
        return self._outcome

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        response = self._response
        try:
            if response is not None:
                try:
                    if exc_type is None and isinstance(self._outcome, Delivered):
                        # Only so the kept-alive connection can be reused: a body that is not
                        # in at once is not waited for (the connection is closed instead).
                        with within(_DRAIN_DELIVERED) as drain_by:
                            if isinstance(response, httpx.Response):
                                _read_answer(response, drain_by)
                            else:
                                _read_until(response.iter_stream(), drain_by)
                finally:
                    response.close()
        finally:
            self._deadline.__exit__(None, None, None)


def _read_answer(response: httpx.Response, stop_at: float) -> bytes:
    """Up to ``_MAX_ANSWER`` bytes of the body, or what arrived before the connection broke or
    ``stop_at`` (a ``time.monotonic()`` value) passed.

    Once the status line has arrived, Tracker has said what it did with the commit: a 4xx/5xx
    cut off mid-body is classified on the error text that did arrive.
    """
    return _read_until(response.iter_bytes(), stop_at)


def _read_until(chunks: Iterator[bytes], stop_at: float) -> bytes:
    """``_read_answer`` of a body's chunks (decoded or not)."""
    answer = bytearray()
    with suppress(httpx.HTTPError, httpx.StreamError, httpcore.TimeoutException, *_UNREACHABLE):
        for chunk in chunks:
            answer += chunk
            if len(answer) >= _MAX_ANSWER or time.monotonic() >= stop_at:
                break
    return bytes(answer)


class _Stream(httpx.SyncByteStream):
    """An httpcore response's body as an httpx ``Response`` reads it."""

    def __init__(self, response: httpcore.Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        return self._response.iter_stream()

    def close(self) -> None:
        self._response.close()
