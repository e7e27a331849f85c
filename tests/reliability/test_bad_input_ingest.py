"""The ingest part of the bad-input matrix, against a running receiver on SQLite and PostgreSQL.

Every door of the Tracker-compatible ingest (``/services/v3|v4|v5/source_commits``) and the token
and commit ids the webhook routes take: bad tokens, long or unprintable commit ids, hostile
XML, truncated JSON, oversize bodies with and without a length. Each gets its right 4xx with a
one-line reason, nothing is queued, and ``/healthz`` still answers 200. A store that fails is
``503 the queue is unavailable``, never its URL or SQL.
"""

from __future__ import annotations

import json
import socket
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import defusedxml.ElementTree as SafeET
import pytest

from hookrelay.core.signatures import sign
from tests.support.databases import KINDS, fresh_database
from tests.web.conftest import SECRET, Receiver, push_body, pushed_commit, start_receiver

TOKEN = "tracker-token-for-tests"  # the receiver's own, so only the input is wrong
ONE_MB = 1024 * 1024
XML = "application/xml"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def v3(commit_id: str = "r1", message: str = "[#1] m") -> bytes:
    """A v3 body with raw (unescaped) fields."""
    return f"<source_commit><message>{message}</message><commit_id>{commit_id}</commit_id></source_commit>".encode()


def v5(commit_id: str = "r1") -> bytes:
    """A v5 body."""
    return json.dumps({"source_commit": {"commit_id": commit_id, "message": "[#1] m"}}).encode()


@dataclass(frozen=True)
class Case:
    """One bad request and the status it must get."""

    path: str
    body: bytes
    headers: dict[str, str | bytes]
    status: int
    reason: str
    params: dict[str, str] = field(default_factory=dict)


def ingest(
    path: str,
    body: bytes,
    content_type: str,
    status: int,
    reason: str,
    *,
    token: str | bytes = TOKEN,
    **params: str,
) -> Case:
    """A post to the ingest with ``token`` in X-TrackerToken (none when empty)."""
    headers: dict[str, str | bytes] = {"Content-Type": content_type}
    if token:
        headers["X-TrackerToken"] = token
    return Case(path, body, headers, status, reason, params)


def push(path: str, commit_id: str, status: int, reason: str, **params: str) -> Case:
    """A signed GitHub push of one commit with ``commit_id``."""
    body = push_body([pushed_commit(commit_id, "[#1] pushed")])
    headers: dict[str, str | bytes] = {
        "X-GitHub-Event": "push",
        "Content-Type": JSON,
        "X-Hub-Signature-256": "sha256=" + sign(body, SECRET),
    }
    return Case(path, body, headers, status, reason, params)


V3, V4, V5 = (
    "/services/v3/source_commits",
    "/services/v4/source_commits",
    "/services/v5/source_commits",
)
VISIBLE = "visible ASCII"
CASES: dict[str, Case] = {
    # bad tokens, wherever they come from
    "header with a space": ingest(V3, v3(), XML, 400, VISIBLE, token="a b"),
    "header with a tab": ingest(V5, v5(), JSON, 400, VISIBLE, token="a\tb"),
    "header non-ascii": ingest(V3, v3(), XML, 400, VISIBLE, token="tökén".encode()),
    "header of 257 characters": ingest(V4, v3(), XML, 400, VISIBLE, token="t" * 257),
    "query non-ascii": ingest(V3, v3(), XML, 400, VISIBLE, token="", token_param="x"),
    "form token with a space": ingest(V3, b"token=a+b&source_commit[message]=%5B%231%5D+m&source_commit[commit_id]=r1", FORM, 400, VISIBLE, token=""),
    "github_commits ?token= with CRLF": push("/services/v3/github_commits", "a" * 40, 400, VISIBLE, token="a\r\nX-Evil: 1"),
    "github ?token= of 300 characters": push("/github", "a" * 40, 400, VISIBLE, token="t" * 300),
    "no token": ingest(V5, v5(), JSON, 401, "X-TrackerToken", token=""),
    # commit ids
    "v3 commit id of 256 characters": ingest(V3, v3("c" * 256), XML, 400, "commit_id of 256 characters"),
    "v3 commit id of 8,000 characters": ingest(V4, v3("c" * 8000), XML, 400, "commit_id of 8000 characters"),
    "v3 commit id with a line break": ingest(V3, v3("r1&#10;r2"), XML, 400, "printable"),
    "v5 commit id of 8,000 characters": ingest(V5, v5("c" * 8000), JSON, 400, "commit_id of 8000"),
    "v5 commit id with a control": ingest(V5, v5("r1\u0007"), JSON, 400, "printable"),
    "push with an 8,000-character id": push("/github", "c" * 8000, 400, "8000 characters"),
    "github_commits with a NUL id": push("/services/v3/github_commits", "abc\x00", 400, "printable", token=TOKEN),
    # XML that is refused before any reading or repair
    "xxe": ingest(V3, b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><source_commit><message>[#1] &x;</message><commit_id>c1</commit_id></source_commit>', XML, 400, "DTD"),
    "billion laughs": ingest(V3, b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><source_commit><message>[#1] &c;</message><commit_id>c1</commit_id></source_commit>', XML, 400, "DTD"),
    "external dtd": ingest(V4, b'<!DOCTYPE s SYSTEM "http://127.0.0.1:9/x.dtd"><source_commit><message>[#1] m</message><commit_id>c1</commit_id></source_commit>', XML, 400, "DTD"),
    "dtd in a broken body": ingest(V3, b'<!DOCTYPE s [<!ENTITY x "y">]><source_commit><message>[#1] & &x;</message><commit_id>c1</commit_id></source_commit>', XML, 400, "DTD"),
    "processing instruction in a broken body": ingest(V3, v3(message="[#1] <?php system('id') ?> &"), XML, 400, "processing instructions"),
    "entity declaration in a broken body": ingest(V3, v3(message="[#1] <!ENTITY e 'x'> &"), XML, 400, "declarations"),
    "euc-jp declared": ingest(V3, b'<?xml version="1.0" encoding="EUC-JP"?><source_commit/>', XML, 400, "encoding"),
    "utf-32 declared": ingest(V3, b'<?xml version="1.0" encoding="utf-32"?><source_commit/>', XML, 400, "encoding"),
    "unknown encoding": ingest(V3, b'<?xml version="1.0" encoding="bogus-enc"?><source_commit/>', XML, 400, "encoding"),
    "truncated xml": ingest(V3, v3()[:40], XML, 400, "not well-formed"),
    "another root": ingest(V3, b"<commit><message>[#1] m</message></commit>", XML, 422, "<commit>"),
    # JSON
    "truncated json": ingest(V5, v5()[:30], JSON, 400, "not valid JSON"),
    "deeply nested json": ingest(V5, b'{"source_commit": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", JSON, 400, "nested"),
    "json array": ingest(V5, b"[1, 2]", JSON, 422, "not a JSON object"),
    "json without a commit id": ingest(V5, b'{"source_commit": {"message": "[#1] m"}}', JSON, 422, "commit_id"),
    # types and sizes
    "v3 as json": ingest(V3, v3(), JSON, 415, "application/json"),
    "v5 as xml": ingest(V5, v5(), XML, 415, "application/xml"),
    "v3 over 1 MB, declared": ingest(V3, v3(message="[#1] " + "x" * ONE_MB), XML, 413, "limit"),
    "v5 over 1 MB, declared": ingest(V5, b'{"source_commit": {"message": "' + b"x" * ONE_MB + b'"}}', JSON, 413, "limit"),
}  # fmt: skip

SEEN: Counter[str] = Counter()


@pytest.fixture(scope="module", params=KINDS)
def running(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Receiver]:
    """One receiver per queue kind (default ingest limits), delivering to nobody."""
    folder = tmp_path_factory.mktemp("bad-ingest")
    with (
        fresh_database(request.param, folder) as url,
        start_receiver(folder, database_url=url) as receiver,
    ):
        yield receiver
    # Shown in the run's output (not captured): the figures of the matrix on this store.
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(
            f"\ningest bad input on {request.param}: {dict(sorted(SEEN.items()))} answers, "
            "0 queued, /healthz 200 after each"
        )
    SEEN.clear()


def reason_of(text: str, content_type: str) -> str:
    """The one-line reason of an error answer, in whichever format it came."""
    if content_type.startswith("application/xml"):
        return "; ".join(e.text or "" for e in SafeET.fromstring(text).iter("error"))
    document = json.loads(text)
    return str(document.get("detail") or document.get("error"))


def assert_untouched(receiver: Receiver) -> None:
    """Nothing queued, and the receiver is still alive and ready."""
    assert receiver.queued() == 0
    assert receiver.client.get("/healthz").status_code == 200
    assert receiver.client.get("/readyz").status_code == 200


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_bad_ingest_input_gets_its_4xx_and_queues_nothing(running: Receiver, name: str) -> None:
    """Each bad request gets its status and one-line reason; nothing is queued; still healthy."""
    case = CASES[name]
    params = {"token": "tökén"} if "token_param" in case.params else case.params
    answer = running.client.post(case.path, content=case.body, headers=case.headers, params=params)
    SEEN[str(answer.status_code)] += 1
    assert answer.status_code == case.status, answer.text[:300]
    reason = reason_of(answer.text, answer.headers["content-type"])
    assert case.reason in reason
    assert "\n" not in reason
    assert len(reason) < 400
    assert_untouched(running)


@pytest.mark.parametrize("path", [V3, V5], ids=["v3", "v5"])
def test_oversize_chunked_body_is_cut_off_at_the_ingest_limit(running: Receiver, path: str) -> None:
    """A body with no Content-Length is refused 413 the moment it passes 1 MB."""
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield v3()[:30] if path == V3 else b'{"source_commit": {"message": "'
        for _ in range(64):  # 4 MB offered; the receiver stops reading long before
            sent += 64 * 1024
            yield b"x" * (64 * 1024)

    headers = {"X-TrackerToken": TOKEN, "Content-Type": XML if path == V3 else JSON}
    answer = running.client.post(path, content=chunks(), headers=headers)
    SEEN[str(answer.status_code)] += 1
    assert answer.status_code == 413
    assert_untouched(running)


RAW = [
    ("token split by CRLF", b"X-TrackerToken: a\r\n b\r\n", 400),
    ("token with a NUL", b"X-TrackerToken: a\x00b\r\n", 400),
    ("token with raw latin-1", b"X-TrackerToken: t\xf6k\r\n", 400),
]


@pytest.mark.parametrize(("header", "status"), [r[1:] for r in RAW], ids=[r[0] for r in RAW])
def test_token_headers_no_client_would_send_are_refused(
    running: Receiver, header: bytes, status: int
) -> None:
    """Header bytes only a raw socket sends (folded lines, NUL, Latin-1) are a 400, never queued."""
    host, port = urlsplit(running.url).hostname, urlsplit(running.url).port
    body = v3()
    request = (
        b"POST /services/v3/source_commits HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n"
        + header
        + b"Content-Type: application/xml\r\nContent-Length: %d\r\n\r\n" % len(body)
        + body
    )
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0]
    SEEN[status_line.split()[1].decode()] += 1
    assert status_line.split()[1] == str(status).encode(), answer[:300]
    assert_untouched(running)


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_store_is_503_the_queue_is_unavailable(kind: str, tmp_path: Path) -> None:
    """When the queue fails, a valid post is 503 'the queue is unavailable': no URL, no SQL."""
    with (
        fresh_database(kind, tmp_path) as url,
        start_receiver(tmp_path, database_url=url) as receiver,
    ):
        receiver.store.close()
        for path, body, content_type in ((V3, v3(), XML), (V5, v5(), JSON)):
            answer = receiver.client.post(
                path, content=body, headers={"X-TrackerToken": TOKEN, "Content-Type": content_type}
            )
            assert answer.status_code == 503
            assert (
                reason_of(answer.text, answer.headers["content-type"]) == "the queue is unavailable"
            )
            for leak in ("sqlite", "postgres", str(tmp_path), "SELECT", "INSERT"):
                assert leak not in answer.text
        assert receiver.client.get("/healthz").status_code == 200  # fmt: skip
