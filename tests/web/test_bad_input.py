"""Bad input over real HTTP: the right 4xx with a one-line reason, nothing queued, still healthy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import defusedxml.ElementTree as SafeET
import pytest

from hookrelay.core.signatures import sign
from tests.support.databases import KINDS, fresh_database
from tests.web.conftest import SECRET, Receiver, push_body, pushed_commit, start_receiver

LIMIT = 64 * 1024

PUSH = push_body([pushed_commit("a" * 40, "[#1] valid push")])
V3_OK = b"<source_commit><message>[#1] m</message><commit_id>c1</commit_id></source_commit>"

XXE = (
    b'<?xml version="1.0"?><!DOCTYPE source_commit [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<source_commit><message>[#1] &x;</message><commit_id>c1</commit_id></source_commit>"
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b"<source_commit><message>[#1] &lol2;</message><commit_id>c1</commit_id></source_commit>"
)


def signed(
    body: bytes, *, event: str = "push", content_type: str = "application/json"
) -> dict[str, str]:
    """GitHub's headers for ``body``, correctly signed."""
    return {
        "X-GitHub-Event": event,
        "Content-Type": content_type,
        "X-Hub-Signature-256": "sha256=" + sign(body, SECRET),
    }


@dataclass(frozen=True)
class Case:
    """One bad request and the status it must get."""

    path: str
    body: bytes
    headers: dict[str, str]
    status: int
    reason: str
    params: dict[str, str] = field(default_factory=dict)


def chunks(body: bytes, size: int = 8192) -> Iterator[bytes]:
    """``body`` as a chunked upload with no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


CASES = {
    "no-signature": Case(
        "/github",
        PUSH,
        {"X-GitHub-Event": "push", "Content-Type": "application/json"},
        401,
        "no signature",
    ),
    "wrong-signature": Case(
        "/github",
        PUSH,
        {**signed(PUSH), "X-Hub-Signature-256": "sha256=" + sign(PUSH, "other")},
        401,
        "does not match",
    ),
    "signature-of-other-body": Case("/github", PUSH + b" ", signed(PUSH), 401, "does not match"),
    "sha1-only": Case(
        "/github",
        PUSH,
        {
            "X-GitHub-Event": "push",
            "Content-Type": "application/json",
            "X-Hub-Signature": "sha1=" + "0" * 40,
        },
        401,
        "SHA-1",
    ),
    "malformed-signature": Case(
        "/github", PUSH, {**signed(PUSH), "X-Hub-Signature-256": "sha256=zz"}, 401, "not a SHA-256"
    ),
    "gitlab-no-token": Case(
        "/gitlab",
        PUSH,
        {"X-Gitlab-Event": "Push Hook", "Content-Type": "application/json"},
        401,
        "X-Gitlab-Token",
    ),
    "text-plain": Case("/github", PUSH, signed(PUSH, content_type="text/plain"), 415, "text/plain"),
    "xml-to-github": Case(
        "/github", V3_OK, signed(V3_OK, content_type="application/xml"), 415, "application/xml"
    ),
    "malformed-json": Case("/github", b'{"ref": ', signed(b'{"ref": '), 400, "not valid JSON"),
    "json-array": Case("/github", b"[1, 2]", signed(b"[1, 2]"), 400, "not a JSON object"),
    "push-without-ref": Case(
        "/github", b'{"commits": []}', signed(b'{"commits": []}'), 400, "no 'ref'"
    ),
    "commits-not-a-list": Case(
        "/github",
        b'{"ref": "refs/heads/m", "commits": {}}',
        signed(b'{"ref": "refs/heads/m", "commits": {}}'),
        400,
        "not a list",
    ),
    "form-without-payload": Case(
        "/github",
        b"other=1",
        signed(b"other=1", content_type="application/x-www-form-urlencoded"),
        400,
        "payload=",
    ),
    "oversize-declared": Case(
        "/github", b"x" * (LIMIT + 1), signed(b"x" * (LIMIT + 1)), 413, "limit"
    ),
    "v3-xxe": Case(
        "/services/v3/source_commits",
        XXE,
        {"X-TrackerToken": "t", "Content-Type": "application/xml"},
        400,
        "DTD",
    ),
    "v3-billion-laughs": Case(
        "/services/v3/source_commits",
        LAUGHS,
        {"X-TrackerToken": "t", "Content-Type": "application/xml"},
        400,
        "DTD",
    ),
    "v3-not-xml": Case(
        "/services/v3/source_commits",
        b"<source_commit>",
        {"X-TrackerToken": "t", "Content-Type": "application/xml"},
        400,
        "not well-formed",
    ),
    "v3-wrong-root": Case(
        "/services/v3/source_commits",
        b"<commit/>",
        {"X-TrackerToken": "t", "Content-Type": "application/xml"},
        422,  # well-formed but not a commit: Tracker's 422
        "<commit>",
    ),
    "v3-no-token": Case(
        "/services/v3/source_commits",
        V3_OK,
        {"Content-Type": "application/xml"},
        401,
        "X-TrackerToken",
    ),
    "v3-json-type": Case(
        "/services/v3/source_commits",
        V3_OK,
        {"X-TrackerToken": "t", "Content-Type": "application/json"},
        415,
        "application/json",
    ),
    "v5-malformed": Case(
        "/services/v5/source_commits",
        b"{",
        {"X-TrackerToken": "t", "Content-Type": "application/json"},
        400,
        "not valid JSON",
    ),
    "v5-no-commit-id": Case(
        "/services/v5/source_commits",
        b'{"source_commit": {"message": "[#1]"}}',
        {"X-TrackerToken": "t", "Content-Type": "application/json"},
        422,  # well-formed but not a commit: Tracker's 422
        "commit_id",
    ),
    "deeply-nested-json": Case(
        "/github", b"[" * 30000 + b"]" * 30000, signed(b"[" * 30000 + b"]" * 30000), 400, "nested"
    ),
    "v5-deeply-nested-json": Case(
        "/services/v5/source_commits",
        b'{"source_commit": ' + b"[" * 30000 + b"]" * 30000 + b"}",
        {"X-TrackerToken": "t", "Content-Type": "application/json"},
        400,
        "nested",
    ),
    "v3-foreign-encoding": Case(
        "/services/v3/source_commits",
        b'<?xml version="1.0" encoding="EUC-JP"?><source_commit/>',
        {"X-TrackerToken": "t", "Content-Type": "application/xml"},
        400,
        "encoding",
    ),
    "v3-unknown-encoding": Case(
        "/services/v3/source_commits",
        b'<?xml version="1.0" encoding="bogus-enc"?><source_commit/>',
        {"X-TrackerToken": "t", "Content-Type": "application/xml"},
        400,
        "encoding",
    ),
    "v5-xml-type": Case(
        "/services/v5/source_commits",
        b"{}",
        {"X-TrackerToken": "t", "Content-Type": "application/xml"},
        415,
        "application/xml",
    ),
}


@pytest.fixture(scope="module", params=KINDS)
def limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Receiver]:
    """One receiver per queue kind for the whole matrix, with a small body limit."""
    folder = tmp_path_factory.mktemp("bad-input")
    with (
        fresh_database(request.param, folder) as url,
        start_receiver(folder, max_body_bytes=LIMIT, database_url=url) as receiver,
    ):
        yield receiver


def reason_of(answer_text: str, content_type: str) -> str:
    """The one-line reason of an error answer, in whichever format it came."""
    if content_type.startswith("application/xml"):
        return "; ".join(e.text or "" for e in SafeET.fromstring(answer_text).iter("error"))
    document = json.loads(answer_text)
    return str(document.get("detail") or document.get("error"))


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_bad_input_gets_the_right_4xx_and_queues_nothing(limited: Receiver, name: str) -> None:
    """Each bad request is refused with its status and a one-line reason, and nothing is queued."""
    case = CASES[name]
    answer = limited.client.post(
        case.path, content=case.body, headers=case.headers, params=case.params
    )
    assert answer.status_code == case.status, answer.text
    reason = reason_of(answer.text, answer.headers["content-type"])
    assert case.reason in reason
    assert "\n" not in reason
    assert limited.queued() == 0
    assert limited.client.get("/healthz").status_code == 200
    assert limited.client.get("/readyz").status_code == 200


def test_chunked_oversize_body_is_refused_while_streaming(limited: Receiver) -> None:
    """A chunked body with no Content-Length is cut off at the limit with 413."""
    body = b"x" * (LIMIT * 4)
    answer = limited.client.post("/github", content=chunks(body), headers=signed(body))
    assert answer.status_code == 413
    assert limited.queued() == 0
    assert limited.client.get("/healthz").status_code == 200


def test_tracker_formats_for_ingest_errors(limited: Receiver) -> None:
    """v3 errors are <errors><error>, v5 errors are Tracker's JSON error object."""
    v3 = limited.client.post(
        "/services/v3/source_commits", content=b"<x", headers={"X-TrackerToken": "t"}
    )
    assert v3.headers["content-type"].startswith("application/xml")
    assert "<errors><error>body is not well-formed XML" in v3.text
    v5 = limited.client.post(
        "/services/v5/source_commits", content=b"[", headers={"X-TrackerToken": "t"}
    )
    assert v5.json()["kind"] == "error"
    assert v5.json()["code"] == "invalid_parameter"


def test_ignored_events_are_answered_2xx(limited: Receiver) -> None:
    """An event hookrelay has no use for (issues, stars) is acknowledged and dropped."""
    body = b'{"action": "opened"}'
    answer = limited.client.post("/github", content=body, headers=signed(body, event="issues"))
    assert answer.status_code == 202
    assert answer.json()["event"] == "issues"
    assert limited.queued() == 0
