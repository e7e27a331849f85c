"""The Tracker-compatible ingest on a running receiver: who may queue, where, and what it is told."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookrelay.cli import main
from hookrelay.core.source_commit import SourceCommit, render_v3_xml, render_v5_json
from hookrelay.core.tracker_api import token_fingerprint
from hookrelay.queue import State
from tests.support.emulator import RunningEmulator, running_emulator
from tests.support.recorder import Recorder, Reply, running_recorder
from tests.web.conftest import (
    Receiver,
    ReceiverFactory,
    github_headers,
    push_body,
    pushed_commit,
)

XML = {"Content-Type": "application/xml"}
UNREACHABLE = "http://127.0.0.1:9/services/v5"


def v3_body(number: int, message: str = "[#1] fixed") -> bytes:
    """A well-formed v3 body for commit ``r<number>``."""
    return render_v3_xml(SourceCommit.of(commit_id=f"r{number}", message=message, author="svn"))


@pytest.fixture(scope="module")
def tracker() -> Iterator[RunningEmulator]:
    """One emulator for the module; its token is the only one it confirms."""
    with running_emulator(token="the-emulators-token") as running:
        yield running


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """A stand-in Tracker that answers every request 200 and records it."""
    with running_recorder() as running:
        running.default = Reply(200, b'{"kind":"me"}', (("Content-Type", "application/json"),))
        yield running


def test_a_token_the_target_confirms_is_queued(
    make_receiver: ReceiverFactory, tracker: RunningEmulator
) -> None:
    """A token hookrelay does not know, that the target's GET /me answers, queues."""
    with make_receiver(tracker_url=tracker.v5_url, tracker_token=None) as receiver:
        answer = receiver.client.post(
            "/services/v3/source_commits",
            content=v3_body(1),
            headers={**XML, "X-TrackerToken": tracker.token},
        )
        assert answer.status_code == 200, answer.text
        assert receiver.queued() == 1


@pytest.mark.parametrize("version", ["v3", "v5"])
def test_a_token_the_target_refuses_is_401_with_trackers_words(
    make_receiver: ReceiverFactory, tracker: RunningEmulator, version: str
) -> None:
    """A token the target answers 401 for gets 401 with Tracker's words, and nothing is queued."""
    body = (
        v3_body(2)
        if version == "v3"
        else render_v5_json(SourceCommit.of(commit_id="2", message="[#1] x", author="a"))
    )
    with make_receiver(tracker_url=tracker.v5_url, tracker_token=None) as receiver:
        answer = receiver.client.post(
            f"/services/{version}/source_commits",
            content=body,
            headers={"X-TrackerToken": "a-strangers-token"},
        )
        assert answer.status_code == 401
        assert "Access Denied." in answer.text
        assert receiver.queued() == 0


def test_known_tokens_are_never_asked_about_and_answers_are_cached(
    make_receiver: ReceiverFactory, recorder: Recorder
) -> None:
    """Configured and listed tokens go straight in; another is asked about once, by fingerprint."""
    settings = {
        "tracker_url": f"{recorder.url}/services/v5",
        "tracker_token": "configured-token",
        "ingest_tokens": "listed-one, listed-two",
    }
    with make_receiver(**settings) as receiver:
        for number, token in enumerate(["configured-token", "listed-two", "other", "other"]):
            answer = receiver.client.post(
                "/services/v3/source_commits",
                content=v3_body(number),
                headers={**XML, "X-TrackerToken": token},
            )
            assert answer.status_code == 200, answer.text
        asked = [r for r in recorder.received if r.method == "GET"]
        assert [(r.path, r.headers["X-TrackerToken"]) for r in asked] == [
            ("/services/v5/me", "other")
        ]
        assert receiver.queued() == 4


def test_a_v3_target_is_asked_with_get_projects(
    make_receiver: ReceiverFactory, recorder: Recorder
) -> None:
    """For a v3 target the read that needs the token is ``GET /projects``."""
    with make_receiver(tracker_url=f"{recorder.url}/services/v3", tracker_token=None) as receiver:
        receiver.client.post(
            "/services/v3/source_commits",
            content=v3_body(1),
            headers={**XML, "X-TrackerToken": "x"},
        )
    assert [r.path for r in recorder.received] == ["/services/v3/projects"]


def test_with_the_target_down_an_unknown_token_queues_only_its_share(
    make_receiver: ReceiverFactory,
) -> None:
    """When the target cannot be asked, an unknown token queues within its share, then gets 429."""
    share = 3 * len(
        render_v3_xml(SourceCommit.of(commit_id="r1", message="[#1] x" * 40, author="svn"))
    )
    with make_receiver(
        tracker_url=UNREACHABLE, tracker_token=None, ingest_unconfirmed_pending_bytes=share
    ) as receiver:
        statuses = [
            receiver.client.post(
                "/services/v3/source_commits",
                content=v3_body(number, "[#1] x" * 40),
                headers={**XML, "X-TrackerToken": "unconfirmed"},
            ).status_code
            for number in range(5)
        ]
        assert statuses[:2] == [200, 200]
        assert statuses[-1] == 429
        assert receiver.store.pending_bytes(token_fingerprint("unconfirmed")) <= share
        # Another token has a share of its own.
        other = receiver.client.post(
            "/services/v3/source_commits",
            content=v3_body(9),
            headers={**XML, "X-TrackerToken": "another"},
        )
        assert other.status_code == 200


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_ingested_body_is_at_most_the_ingest_limit(
    make_receiver: ReceiverFactory, declared: bool
) -> None:
    """A source_commit body over HOOKRELAY_INGEST_MAX_BODY_BYTES is 413, declared or streamed."""
    body = v3_body(1, "[#1] " + "x" * 2000)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    with make_receiver(ingest_max_body_bytes=1000) as receiver:
        answer = receiver.client.post(
            "/services/v3/source_commits",
            content=body if declared else chunks(),
            headers={**XML, "X-TrackerToken": "tracker-token-for-tests"},
        )
        assert answer.status_code == 413
        assert answer.headers["content-type"].startswith("application/xml")
        assert receiver.queued() == 0


def test_v4_query_and_form_tokens_are_taken_as_tracker_took_them(receiver: Receiver) -> None:
    """``/services/v4`` is v3; the token may come as ``?token=`` or a ``token`` form field."""
    token = "tracker-token-for-tests"
    v4 = receiver.client.post(
        "/services/v4/source_commits", content=v3_body(1), params={"token": token}
    )
    assert v4.status_code == 200, v4.text
    assert v4.text == v3_body(1).decode()
    form = receiver.client.post(
        "/services/v3/source_commits",
        data={
            "token": token,
            "source_commit[message]": "[#1] R&D <form>",
            "source_commit[commit_id]": "r2",
            "source_commit[author]": "svn",
        },
    )
    assert form.status_code == 200, form.text
    assert [d.commit_id for d in receiver.pending()] == ["r1", "r2"]
    assert '"message":"[#1] R&D <form>"' in receiver.pending()[1].body.decode()


def test_a_repaired_commit_is_marked_in_the_list_and_the_log(
    make_receiver: ReceiverFactory,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A body an old script broke is queued as meant, and says what was repaired where
    operators look: GET /deliveries, ``deliveries list`` and ``show``, and the log line."""
    broken = b"<source_commit><message>[#1] R&D <lt;3</message><author>svn</author><commit_id>r7</commit_id></source_commit>"
    caplog.set_level(logging.INFO, "hookrelay.web")
    with make_receiver(admin_token="admin") as receiver:
        answer = receiver.client.post(
            "/services/v3/source_commits",
            content=broken,
            headers={**XML, "X-TrackerToken": "tracker-token-for-tests"},
        )
        assert answer.status_code == 200, answer.text
        assert "<message>[#1] R&amp;D &lt;3</message>" in answer.text
        listed = receiver.client.get("/deliveries", headers={"Authorization": "Bearer admin"})
        (delivery,) = listed.json()["deliveries"]
        assert delivery["repaired"] == "bare &, bash 5.2 <lt; doubling"
        (line,) = [r for r in caplog.records if "source_commit r7" in r.getMessage()]
        assert "repaired: bare &, bash 5.2 <lt; doubling" in line.getMessage()
        database = receiver.settings.database_url
    assert main(["deliveries", "--database-url", database, "list"]) == 0
    assert "[repaired: bare &, bash 5.2 <lt; doubling]" in capsys.readouterr().out
    assert main(["deliveries", "--database-url", database, "show", "1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["repaired"] == "bare &, bash 5.2 <lt; doubling"
    assert shown["state"] == State.PENDING.value
    assert tmp_path.exists()


BAD_DOORS = [
    ("header with a space", "/services/v3/source_commits", {"X-TrackerToken": "a b"}, {}),
    ("header too long", "/services/v5/source_commits", {"X-TrackerToken": "t" * 257}, {}),
    ("query non-ascii", "/services/v3/source_commits", {}, {"token": "tökén"}),
    ("query with a control", "/services/v4/source_commits", {}, {"token": "a\x01b"}),
    ("v5 query with a space", "/services/v5/source_commits", {}, {"token": "abc LEAK"}),
]


@pytest.mark.parametrize(
    ("path", "headers", "params"), [d[1:] for d in BAD_DOORS], ids=[d[0] for d in BAD_DOORS]
)
def test_unusable_tokens_are_400_at_the_door(
    receiver: Receiver, path: str, headers: dict[str, str], params: dict[str, str]
) -> None:
    """A token that could never reach Tracker is refused 400 with one line naming where it
    came from (the header or ``?token=``), never queued."""
    body = (
        v3_body(1)
        if "v5" not in path
        else render_v5_json(SourceCommit.of(commit_id="1", message="[#1] x", author="a"))
    )
    answer = receiver.client.post(
        path,
        content=body,
        headers={**XML, **headers} if "v5" not in path else headers,
        params=params,
    )
    assert answer.status_code == 400, answer.text
    assert "visible ASCII" in answer.text
    assert ("X-TrackerToken is not" if headers else "?token= is not") in answer.text
    for value in (*headers.values(), *params.values()):
        assert value not in answer.text  # a fingerprint is named, never the token
    assert receiver.queued() == 0


def test_github_commits_token_is_held_to_the_same_door(
    make_receiver: ReceiverFactory, tracker: RunningEmulator
) -> None:
    """``github_commits?token=`` takes only a token the target confirms: 401 otherwise."""
    body = push_body([pushed_commit("e" * 40, "[#1] pushed")])
    with make_receiver(tracker_url=tracker.v5_url, tracker_token=None) as receiver:
        for token, status in (("a-strangers-token", 401), (tracker.token, 202)):
            answer = receiver.client.post(
                "/services/v3/github_commits",
                params={"token": token},
                content=body,
                headers=github_headers(body),
            )
            assert answer.status_code == status, answer.text
        assert receiver.queued() == 1
