"""The Tracker client against misbehaving servers on loopback: every fault becomes an Outcome."""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import Delivered, Refused, RetryLater, TrackerTarget
from hookrelay.exceptions import ConfigError
from hookrelay.tracker.client import TrackerClient, make_http_client
from tests.support.recorder import Recorder, Reply, running_recorder
from tests.tracker.rawserver import reset, running_raw_server

TOKEN = "0123456789abcdef0123456789abcdef"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
COMMIT = SourceCommit.of(
    commit_id="4f2a9c1",
    message="[Finishes #187000001] Torpedoes powered",
    author="Scotty",
    url="https://example.test/commit/4f2a9c1",
)


@pytest.fixture(params=["direct", "httpx"])
def http(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """The client hookrelay makes for Tracker, with timeouts short enough for a test: posting
    through its transport's pool (``direct``), and, as for a URL mounted on another
    transport, through ``httpx.Client.send`` (``httpx``); every fault ends the same."""
    with make_http_client(httpx.Timeout(2.0, connect=2.0)) as client:
        if request.param == "httpx":
            client.direct = lambda _url: None  # type: ignore[method-assign]
        yield client


@pytest.fixture(scope="module")
def shared_recorder() -> Iterator[Recorder]:
    """One scripted HTTP server for the module (stopping one takes half a second)."""
    with running_recorder() as running:
        yield running


@pytest.fixture
def recorder(shared_recorder: Recorder) -> Recorder:
    """The module's scripted HTTP server, with nothing received and nothing scripted."""
    shared_recorder.reset()
    return shared_recorder


def client_for(http: httpx.Client, url: str, version: str = "v5") -> TrackerClient:
    """A client posting to ``url``/services/``version`` with a fixed clock."""
    target = TrackerTarget.parse(f"{url}/services/{version}")
    return TrackerClient(http, target, TOKEN, clock=lambda: NOW)


ANSWERS = [
    (Reply(503, b"down for maintenance"), RetryLater(503, "HTTP 503: down for maintenance")),
    (
        Reply(429, b"", (("Retry-After", "120"),)),
        RetryLater(429, "HTTP 429", retry_after=120.0),
    ),
    (
        Reply(
            429, b"", (("Retry-After", format_datetime(NOW + timedelta(seconds=90), usegmt=True)),)
        ),
        RetryLater(429, "HTTP 429", retry_after=90.0),
    ),
    (
        Reply(500, b"<errors><error>Internal error</error></errors>"),
        RetryLater(500, "HTTP 500: Internal error"),
    ),
    (Reply(401, b"Access Denied."), Refused(401, "HTTP 401: Access Denied.")),
    (
        Reply(422, b'{"code":"invalid_parameter","kind":"error","error":"no commit_id"}'),
        Refused(422, "HTTP 422: no commit_id"),
    ),
    (Reply(200, b"\x00\xff not <xml or {json"), Delivered(200)),
    (Reply(200, b"\x1f\x8b garbage", (("Content-Encoding", "gzip"),)), Delivered(200)),
    (Reply(201, b""), Delivered(201)),
]


@pytest.mark.parametrize(
    ("reply", "expected"),
    ANSWERS,
    ids=[
        "503",
        "429-retry-after-seconds",
        "429-retry-after-date",
        "500-v3-errors",
        "401-access-denied",
        "422-v5-error",
        "200-garbage-body",
        "200-undecodable-gzip",
        "201-empty",
    ],
)
def test_answer_is_classified(
    http: httpx.Client, recorder: Recorder, reply: Reply, expected: object
) -> None:
    """Each status Tracker might answer becomes delivered, refused with its text, or retry later."""
    recorder.script.append(reply)
    assert client_for(http, recorder.url).post(COMMIT) == expected


def test_connection_refused_is_retry_later(http: httpx.Client) -> None:
    """A port where nothing listens means Tracker is down: retry later, no status."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    outcome = client_for(http, url).post(COMMIT)
    assert isinstance(outcome, RetryLater)
    assert outcome.status == 0
    assert "ConnectError" in outcome.reason


def test_reset_before_answer_is_retry_later(http: httpx.Client, recorder: Recorder) -> None:
    """A connection reset before any status line arrived means the commit may not be there."""
    recorder.script.append(Reply(action="reset"))
    outcome = client_for(http, recorder.url).post(COMMIT)
    assert isinstance(outcome, RetryLater)
    assert outcome.status == 0


def _cut_off(status_line: bytes) -> object:
    def answer(connection: socket.socket, request: bytes) -> bool:
        connection.sendall(
            status_line + b"\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nhalf of"
        )
        reset(connection)
        return False

    return answer


@pytest.mark.parametrize(
    ("status_line", "expected"),
    [
        (b"HTTP/1.1 503 Service Unavailable", RetryLater(503, "HTTP 503: half of")),
        (b"HTTP/1.1 422 Unprocessable Entity", Refused(422, "HTTP 422: half of")),
        (b"HTTP/1.1 200 OK", Delivered(200)),
    ],
    ids=["503", "422", "200"],
)
def test_reset_mid_answer_keeps_the_status(
    http: httpx.Client, status_line: bytes, expected: object
) -> None:
    """An answer cut off by a reset is classified by the status that did arrive."""
    with running_raw_server(_cut_off(status_line)) as server:  # type: ignore[arg-type]
        assert client_for(http, server.url).post(COMMIT) == expected


def test_answer_that_is_not_http_is_retry_later(http: httpx.Client) -> None:
    """Bytes that are not an HTTP answer are a transport fault: retry later."""

    def answer(connection: socket.socket, request: bytes) -> bool:
        connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        return False

    with running_raw_server(answer) as server:
        outcome = client_for(http, server.url).post(COMMIT)
    assert isinstance(outcome, RetryLater)
    assert outcome.status == 0


def test_server_that_never_answers_times_out(recorder: Recorder) -> None:
    """A server that takes the request and never answers is given up on after the read timeout."""
    recorder.script.append(Reply(action="hang"))
    with make_http_client(httpx.Timeout(0.3, connect=2.0)) as http:
        outcome = client_for(http, recorder.url).post(COMMIT)
    assert outcome == RetryLater(0, "Tracker did not answer in time (ReadTimeout)")


def _trickled(head: bytes, body: bytes, sent: list[int]) -> object:
    """An answer that sends ``head`` whole, then ``body`` a byte every 50 ms (or, with an empty
    head, the status line and headers themselves a byte at a time)."""

    def answer(connection: socket.socket, request: bytes) -> bool:
        if head:
            connection.sendall(head)
        for count, byte in enumerate(body, start=1):
            connection.sendall(bytes([byte]))  # raises once the client has hung up
            sent.append(count)
            time.sleep(0.05)
        return False

    return answer


_SLOW_BODY = b"x" * 1000
TRICKLES = [
    (
        b"",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"X-Pad: y\r\n" * 100,
        RetryLater(0, "Tracker did not answer in time (ReadTimeout)"),
    ),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", _SLOW_BODY, Delivered(200)),
    (
        b"HTTP/1.1 503 Busy\r\nContent-Length: 1000\r\n\r\n",
        _SLOW_BODY,
        RetryLater(503, "HTTP 503: x"),
    ),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("head", "body", "expected"), TRICKLES, ids=["headers", "200-body", "503-body"]
)
def test_trickling_answer_ends_within_answer_within(
    head: bytes, body: bytes, expected: object
) -> None:
    """However the answer trickles (status line and headers, or body), the post ends by
    ``answer_within``: the client hangs up long before the answer ends, and what arrived is
    classified (headers never completed: retry later)."""
    sent: list[int] = []
    with (
        make_http_client(httpx.Timeout(2.0, connect=2.0)) as http,
        running_raw_server(_trickled(head, body, sent)) as server,  # type: ignore[arg-type]
    ):
        target = TrackerTarget.parse(f"{server.url}/services/v5")
        client = TrackerClient(http, target, TOKEN, clock=lambda: NOW, answer_within=1.0)
        started = time.monotonic()
        outcome = client.post(COMMIT)
        elapsed = time.monotonic() - started
    # Error text is what arrived before the deadline: compare its start only.
    if isinstance(outcome, RetryLater) and isinstance(expected, RetryLater):
        outcome = replace(outcome, reason=outcome.reason[: len(expected.reason)])
    assert outcome == expected
    assert len(sent) < len(body) / 2
    assert elapsed < 1.0 + 2.0, "the read timeout (2 s) restarted on every byte"


@pytest.mark.timeout(60)
def test_a_2xx_is_known_on_its_status_line() -> None:
    """A 2xx is handed to the caller before its body is read, so the caller can record the
    delivery while the body still trickles in."""
    sent: list[int] = []
    head = b"HTTP/1.1 201 Created\r\nContent-Length: 1000\r\n\r\n"
    with (
        make_http_client(httpx.Timeout(2.0, connect=2.0)) as http,
        running_raw_server(_trickled(head, _SLOW_BODY, sent)) as server,  # type: ignore[arg-type]
    ):
        target = TrackerTarget.parse(f"{server.url}/services/v5")
        client = TrackerClient(http, target, TOKEN, clock=lambda: NOW, answer_within=0.5)
        with client.answer_to(b"{}") as outcome:
            body_bytes_when_known = len(sent)
    assert outcome == Delivered(201)
    assert body_bytes_when_known < 10


def test_a_silent_server_is_left_at_answer_within_not_the_read_timeout() -> None:
    """A server that takes the request and says nothing is given up on at the post's deadline,
    even when the client's read timeout is longer."""

    def hang(connection: socket.socket, request: bytes) -> bool:
        time.sleep(30)
        return False

    with (
        make_http_client(httpx.Timeout(10.0, connect=10.0)) as http,
        running_raw_server(hang) as server,
    ):
        target = TrackerTarget.parse(f"{server.url}/services/v5")
        client = TrackerClient(http, target, TOKEN, clock=lambda: NOW, answer_within=0.5)
        started = time.monotonic()
        outcome = client.post(COMMIT)
        elapsed = time.monotonic() - started
    assert outcome == RetryLater(0, "Tracker did not answer in time (ReadTimeout)")
    assert elapsed < 5.0, "the 10 s read timeout was waited out"


@pytest.mark.parametrize("follow", [False, True], ids=["our-client", "client-that-follows"])
def test_redirect_to_another_host_is_not_followed(recorder: Recorder, follow: bool) -> None:
    """A 302 is refused, not followed, even by an httpx client set to follow: the token stays home."""
    with running_recorder() as elsewhere, httpx.Client(follow_redirects=follow) as http:
        location = f"{elsewhere.url}/services/v5/source_commits"
        recorder.script.append(Reply(302, b"", (("Location", location),)))
        outcome = client_for(http, recorder.url).post(COMMIT)
        assert elsewhere.received == []
    assert isinstance(outcome, Refused)
    assert outcome.status == 302
    assert location in outcome.reason


@pytest.mark.parametrize("version", ["v3", "v5"])
def test_token_travels_only_in_its_header(
    http: httpx.Client, recorder: Recorder, version: str
) -> None:
    """The token is in X-TrackerToken and nowhere else: not the URL, the body or other headers."""
    assert client_for(http, recorder.url, version).post(COMMIT) == Delivered(200)
    (request,) = recorder.received
    assert request.path == f"/services/{version}/source_commits"
    assert request.headers["X-TrackerToken"] == TOKEN
    others = [value for name, value in request.headers.items() if name != "X-TrackerToken"]
    assert not any(TOKEN in value for value in others)
    assert TOKEN.encode() not in request.body


def test_token_echoed_by_a_server_is_not_kept_in_the_reason(
    http: httpx.Client, recorder: Recorder
) -> None:
    """Error text that quotes the token back is kept without it, since reasons reach the dashboard."""
    recorder.script.append(Reply(401, f"Invalid token {TOKEN}".encode()))
    outcome = client_for(http, recorder.url).post(COMMIT)
    assert outcome == Refused(401, "HTTP 401: Invalid token [token]")


def test_huge_error_answer_is_not_read_whole(http: httpx.Client) -> None:
    """A megabyte of error text ends as a one-line reason of bounded length."""

    def answer(connection: socket.socket, request: bytes) -> bool:
        size = 1024 * 1024
        connection.sendall(f"HTTP/1.1 503 Busy\r\nContent-Length: {size}\r\n\r\n".encode())
        connection.sendall(b"x" * size)
        return False

    with running_raw_server(answer) as server:
        outcome = client_for(http, server.url).post(COMMIT)
    assert isinstance(outcome, RetryLater)
    assert outcome.status == 503
    assert len(outcome.reason) <= len("HTTP 503: ") + 300


def test_connections_are_reused(http: httpx.Client) -> None:
    """Several commits to one Tracker travel over one kept-alive connection."""

    def answer(connection: socket.socket, request: bytes) -> bool:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        return True

    with running_raw_server(answer) as server:
        client = client_for(http, server.url)
        outcomes = [client.post(COMMIT) for _ in range(3)]
    assert outcomes == [Delivered(200)] * 3
    assert (server.connections, len(server.requests)) == (1, 3)


@pytest.mark.parametrize(
    "token",
    ["", "two words", "line\nbreak", "t\u00f6ken", " padded"],
    ids=["empty", "space", "newline", "non-ascii", "leading-space"],
)
def test_token_that_cannot_be_a_header_is_a_config_error(http: httpx.Client, token: str) -> None:
    """A token no HTTP header can carry stops the client at once, without repeating the token."""
    target = TrackerTarget.parse("http://127.0.0.1:9/services/v5")
    with pytest.raises(ConfigError) as caught:
        TrackerClient(http, target, token)
    assert token.strip() == "" or token not in str(caught.value)


def test_gzip_error_text_is_decoded(http: httpx.Client, recorder: Recorder) -> None:
    """Error text sent gzip-encoded is read as Tracker's words, not as compressed bytes."""
    body = gzip.compress(b"<errors><error>Story not found</error></errors>")
    recorder.script.append(Reply(404, body, (("Content-Encoding", "gzip"),)))
    assert client_for(http, recorder.url).post(COMMIT) == Refused(404, "HTTP 404: Story not found")
