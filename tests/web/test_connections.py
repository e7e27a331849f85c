"""Slow and idle connections are closed and open connections are capped, on real sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from tests.web.conftest import ReceiverFactory, github_headers, push_body, pushed_commit

# Short timeouts keep the tests quick; the defaults are 10 s.
QUICK = {"head_timeout": 0.5, "body_stall_timeout": 0.5}


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def _closed_within(sock: socket.socket, seconds: float, *, keep_sending: bytes = b"") -> float:
    """Seconds until the server closes ``sock`` (reading and discarding what it sends), sending
    ``keep_sending`` a byte every 50 ms meanwhile; fails past ``seconds``."""
    start = time.monotonic()
    sock.settimeout(0.05)
    pending = iter(keep_sending)
    while time.monotonic() - start < seconds:
        try:
            if not sock.recv(4096):
                return time.monotonic() - start
        except TimeoutError:
            pass
        except ConnectionResetError:
            return time.monotonic() - start
        byte = next(pending, None)
        if byte is not None:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - start
    pytest.fail(f"the connection was still open after {seconds} s")


def _head(body: bytes, *, length: int | None = None) -> bytes:
    headers = github_headers(body)
    lines = [b"POST /github HTTP/1.1", b"Host: relay"]
    lines += [f"{name}: {value}".encode() for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body) if length is None else length}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _answer(sock: socket.socket) -> bytes:
    sock.settimeout(5)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    return received


def _push() -> bytes:
    return push_body([pushed_commit("a" * 40, "[#1] slow but steady")])


Opening = Callable[[socket.socket], None]

OPENINGS: list[tuple[Opening, bytes]] = [
    (lambda sock: None, b""),
    (lambda sock: None, b"POST /github HTTP/1.1\r\nHost: relay\r\nX-Padding: " + b"x" * 200),
    (lambda sock: sock.sendall(_head(_push())[:20]), b""),
]


@pytest.mark.parametrize(
    ("opening", "trickle"), OPENINGS, ids=["silent", "head-trickled", "half-a-head"]
)
def test_a_connection_without_a_whole_request_head_is_closed(
    make_receiver: ReceiverFactory, opening: Opening, trickle: bytes
) -> None:
    """No request head within head_timeout closes the connection, however it trickles."""
    with make_receiver(**QUICK) as receiver, _connect(receiver.url) as sock:
        opening(sock)
        assert _closed_within(sock, 5, keep_sending=trickle) >= 0.4
        assert receiver.queued() == 0


def test_a_body_that_stalls_is_closed_and_nothing_is_queued(make_receiver: ReceiverFactory) -> None:
    """A body with no byte for body_stall_timeout closes the connection; nothing is queued."""
    body = _push()
    with make_receiver(**QUICK) as receiver, _connect(receiver.url) as sock:
        sock.sendall(_head(body) + body[:10])
        assert _closed_within(sock, 5) >= 0.4
        assert receiver.queued() == 0
        assert receiver.client.get("/healthz").status_code == 200


def test_a_slow_but_steady_body_is_read_to_the_end(make_receiver: ReceiverFactory) -> None:
    """A body that keeps coming, if slowly, is not a stall: it is queued, past the stall time."""
    body = _push()
    with make_receiver(**QUICK) as receiver, _connect(receiver.url) as sock:
        sock.sendall(_head(body))
        start = time.monotonic()
        for offset in range(0, len(body), len(body) // 4 + 1):
            time.sleep(0.2)  # each pause is shorter than the stall timeout
            sock.sendall(body[offset : offset + len(body) // 4 + 1])
        answer = _answer(sock)
        assert time.monotonic() - start > QUICK["body_stall_timeout"]
        assert answer.startswith(b"HTTP/1.1 202"), answer
        assert receiver.queued() == 1


def test_connections_past_the_cap_are_answered_503(make_receiver: ReceiverFactory) -> None:
    """With max_connections open, one more request is answered 503 and queues nothing."""
    with make_receiver(max_connections=3) as receiver:
        idle = [_connect(receiver.url) for _ in range(3)]
        try:
            deadline = time.monotonic() + 5
            with _connect(receiver.url) as sock:
                body = _push()
                sock.sendall(_head(body) + body)
                answer = _answer(sock)
            assert answer.startswith(b"HTTP/1.1 503"), answer
            assert time.monotonic() < deadline
            assert receiver.queued() == 0
        finally:
            for sock in idle:
                sock.close()
