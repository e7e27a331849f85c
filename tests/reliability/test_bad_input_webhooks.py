"""The webhook side's bad-input matrix against a running ``hookrelay serve`` process.

Every case gets its own 4xx (with a one-line reason where the app answers; h11 itself refuses
broken framing), nothing is queued, and ``/healthz`` still answers 200 after each. The cases of
``tests/web/test_bad_input.py`` for the webhook endpoints run here too, over a real process,
with the cases that need raw sockets (broken framing, a body cut short) and per-route secrets.
"""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hookrelay.core.signatures import sign
from tests.e2e.process import hookrelay_serve
from tests.web.conftest import SECRET, github_headers, push_body, pushed_commit
from tests.web.test_bad_input import CASES, LIMIT, chunks

WEBHOOK_PATHS = ("/github", "/gitlab", "/services/v3/github_commits")
ROCKET_SECRET = "rocket-secret"

PUSH = push_body([pushed_commit("c" * 40, "[#1] valid push")])
ROCKET_PUSH = push_body([pushed_commit("d" * 40, "[#1] rocket")], repository="acme/rocket")
NESTED_IN_A_COMMIT = (
    b'{"ref": "refs/heads/main", "commits": [{"id": "e1", "message": '
    + b"[" * 30000
    + b"]" * 30000
    + b"}]}"
)


@dataclass(frozen=True)
class Served:
    """The running server, its URL and its queue file."""

    url: str
    queue: Path

    def queued(self) -> int:
        """Rows in the queue, read behind the server's back."""
        with sqlite3.connect(self.queue) as db:
            return int(db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])

    def healthy(self) -> bool:
        """Whether /healthz answers 200."""
        return httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One ``hookrelay serve`` for the matrix: a small body limit, a default secret and a route
    (acme/rocket) with its own secret."""
    folder = tmp_path_factory.mktemp("bad-input-serve")
    config = folder / "hookrelay.toml"
    config.write_text(f'[routes."acme/rocket"]\nsecret = "{ROCKET_SECRET}"\n')
    env = {
        "HOOKRELAY_DATABASE_URL": f"sqlite:///{folder / 'queue.db'}",
        "HOOKRELAY_TRACKER_URL": "http://127.0.0.1:9/services/v5",
        "HOOKRELAY_TRACKER_TOKEN": "tracker-token",
        "HOOKRELAY_GITHUB_SECRET": SECRET,
        "HOOKRELAY_MAX_BODY_BYTES": str(LIMIT),
        "HOOKRELAY_HEAD_TIMEOUT": "2",
        "HOOKRELAY_BODY_STALL_TIMEOUT": "2",
    }
    with hookrelay_serve(env, "--config", str(config)) as serve:
        yield Served(serve.url, folder / "queue.db")


WEBHOOK_CASES = {name: case for name, case in CASES.items() if case.path in WEBHOOK_PATHS}

HTTP_CASES: dict[str, tuple[str, bytes, dict[str, str], int]] = {
    "another-repositorys-secret": (
        "/github",
        PUSH,
        github_headers(PUSH, secret=ROCKET_SECRET),
        401,
    ),
    "default-secret-on-a-route-with-its-own": (
        "/github",
        ROCKET_PUSH,
        github_headers(ROCKET_PUSH),
        401,
    ),
    "gitlab-wrong-token": (
        "/gitlab",
        PUSH,
        {
            "X-Gitlab-Event": "Push Hook",
            "X-Gitlab-Token": "nope",
            "Content-Type": "application/json",
        },
        401,
    ),
    "empty-signature": ("/github", PUSH, {**github_headers(PUSH), "X-Hub-Signature-256": ""}, 401),
    "signed-not-utf8": ("/github", b"\xff\xfe{", github_headers(b"\xff\xfe{"), 400),
    "nested-inside-a-commit": (
        "/github",
        NESTED_IN_A_COMMIT,
        github_headers(NESTED_IN_A_COMMIT),
        400,
    ),
    "truncated-json": (
        "/github",
        PUSH[: len(PUSH) // 2],
        github_headers(PUSH[: len(PUSH) // 2]),
        400,
    ),
    "commit-without-id": (
        "/github",
        b'{"ref": "refs/heads/main", "commits": [{"message": "[#1]"}]}',
        github_headers(b'{"ref": "refs/heads/main", "commits": [{"message": "[#1]"}]}'),
        400,
    ),
    "json-to-tracker-github-url-unsigned": (
        "/services/v3/github_commits",
        PUSH,
        {"X-GitHub-Event": "push", "Content-Type": "application/json"},
        401,
    ),
}


def _raw(url: str, request: bytes, *, then_close: bool = False) -> bytes:
    """Send ``request`` on a fresh connection; the server's answer (b"" if it only closed)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        if then_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        return received


def _head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: relay"]
    lines += [f"{name}: {value}".encode() for name, value in headers.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n"


RAW_CASES: dict[str, tuple[bytes, bool, bytes]] = {
    "content-length-not-a-number": (
        _head("/github", {**github_headers(PUSH), "Content-Length": "12abc"}) + PUSH,
        False,
        b"HTTP/1.1 400",
    ),
    "two-content-lengths": (
        _head("/github", {**github_headers(PUSH), "Content-Length": f"{len(PUSH)}, 5"}) + PUSH,
        False,
        b"HTTP/1.1 400",
    ),
    "broken-chunk-size": (
        _head("/github", {**github_headers(PUSH), "Transfer-Encoding": "chunked"})
        + b"zz\r\n{}\r\n0\r\n\r\n",
        False,
        b"HTTP/1.1 400",
    ),
    "oversize-chunked-in-one-chunk": (
        _head("/github", {**github_headers(PUSH), "Transfer-Encoding": "chunked"})
        + f"{LIMIT + 10:x}\r\n".encode()
        + b"x" * (LIMIT + 10)
        + b"\r\n0\r\n\r\n",
        False,
        b"HTTP/1.1 413",
    ),
    "body-shorter-than-declared": (
        _head("/github", {**github_headers(PUSH), "Content-Length": str(len(PUSH) + 100)}) + PUSH,
        True,
        b"",
    ),
}


@pytest.mark.parametrize("name", list(WEBHOOK_CASES), ids=list(WEBHOOK_CASES))
def test_the_web_matrix_holds_against_a_real_process(served: Served, name: str) -> None:
    """The in-process matrix's webhook cases get the same answers from a real serve."""
    case = WEBHOOK_CASES[name]
    answer = httpx.post(
        served.url + case.path, content=case.body, headers=case.headers, params=case.params
    )
    assert answer.status_code == case.status, answer.text
    assert case.reason in answer.json()["detail"]
    assert served.queued() == 0
    assert served.healthy()


@pytest.mark.parametrize("name", list(HTTP_CASES), ids=list(HTTP_CASES))
def test_bad_webhooks_get_their_4xx_and_queue_nothing(served: Served, name: str) -> None:
    """Signatures bound to their repository, truncated, nested and non-UTF-8 bodies: each 4xx."""
    path, body, headers, status = HTTP_CASES[name]
    answer = httpx.post(served.url + path, content=body, headers=headers)
    assert answer.status_code == status, answer.text
    reason = answer.json()["detail"]
    assert reason
    assert "\n" not in reason
    assert served.queued() == 0
    assert served.healthy()


@pytest.mark.parametrize("name", list(RAW_CASES), ids=list(RAW_CASES))
def test_broken_framing_is_refused_and_queues_nothing(served: Served, name: str) -> None:
    """Bad lengths, bad chunking and a body cut short are refused (or the connection closed)."""
    request, then_close, expected = RAW_CASES[name]
    answer = _raw(served.url, request, then_close=then_close)
    assert answer.startswith(expected), answer[:200]
    assert served.queued() == 0
    assert served.healthy()


@pytest.mark.parametrize("declared", [True, False], ids=["with-length", "chunked"])
def test_oversize_bodies_are_413_with_or_without_a_length(served: Served, declared: bool) -> None:
    """A body over the limit is 413 whether it declares its length or streams in chunks."""
    body = b"x" * (LIMIT * 4)
    content = body if declared else chunks(body)
    answer = httpx.post(f"{served.url}/github", content=content, headers=github_headers(body))
    assert answer.status_code == 413
    assert served.queued() == 0
    assert served.healthy()


def test_a_valid_push_still_queues_after_the_matrix(served: Served) -> None:
    """The server that refused all of the above still takes a good push, and a route's own one."""
    for body, secret in ((PUSH, SECRET), (ROCKET_PUSH, ROCKET_SECRET)):
        headers = {
            **github_headers(body, secret=None),
            "X-Hub-Signature-256": "sha256=" + sign(body, secret),
        }
        answer = httpx.post(f"{served.url}/github", content=body, headers=headers)
        assert answer.status_code == 202, answer.text
    assert served.queued() == 2
