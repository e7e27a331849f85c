"""``hookrelay deliveries list|show|retry`` on a real SQLite queue, through the CLI's ``main``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookrelay.cli import EXIT_CONFIG, EXIT_FAILURE, EXIT_USAGE, main
from hookrelay.core.tracker_api import token_fingerprint
from hookrelay.queue import QueueStore, State, open_store
from tests.delivery.conftest import TOKEN, queue_commit

TARGET = "http://127.0.0.1:9/services/v5"


@pytest.fixture
def queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[QueueStore]:
    """A queue at $HOOKRELAY_DATABASE_URL with one delivered, one dead and one pending commit."""
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    monkeypatch.setenv("HOOKRELAY_DATABASE_URL", url)
    store = open_store(url)
    for number in (1, 2, 3):
        queue_commit(store, TARGET, number, now=1_700_000_000.0)
    delivered, dead = store.lease(now=1_700_000_000.0, limit=2, lease_seconds=60)
    store.mark_delivered(delivered, now=1_700_000_001.0)
    store.mark_dead(dead, now=1_700_000_002.0, error="HTTP 422: Story 2 is not in this project")
    yield store
    store.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``hookrelay ARGV``; return its exit code, stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_newest_first_without_the_token(
    queue: QueueStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """``list`` prints one line a delivery, newest first, with the token's fingerprint only."""
    code, out, _ = run(capsys, "deliveries", "list")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:5] == ["ID", "STATE", "TRIES", "COMMIT", "TOKEN"]
    assert [row.split()[:2] for row in rows] == [
        ["3", "pending"],
        ["2", "dead"],
        ["1", "delivered"],
    ]
    assert "HTTP 422: Story 2 is not in this project" in rows[1]
    assert "2023-11-14 22:13:22Z" in rows[1]
    assert queue.list()[0].token_fingerprint in rows[0]
    assert TOKEN not in out


def test_list_json_filters_and_pages(queue: QueueStore, capsys: pytest.CaptureFixture[str]) -> None:
    """``list --json`` prints the fields scripts need, filtered by state and paged by id."""
    code, out, _ = run(capsys, "deliveries", "list", "--json", "--limit", "2")
    assert code == 0
    assert [d["id"] for d in json.loads(out)["deliveries"]] == [3, 2]
    _, out, _ = run(capsys, "deliveries", "list", "--json", "--before", "2")
    assert [d["id"] for d in json.loads(out)["deliveries"]] == [1]
    _, out, _ = run(capsys, "deliveries", "list", "--json", "--state", "dead")
    (dead,) = json.loads(out)["deliveries"]
    assert (dead["id"], dead["state"], dead["last_error"]) == (
        2,
        "dead",
        "HTTP 422: Story 2 is not in this project",
    )
    assert "token" not in dead
    assert TOKEN not in out


def test_show_prints_the_body_and_error_without_the_token(
    queue: QueueStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """``show ID`` prints every field but the token, the body as text included."""
    code, out, _ = run(capsys, "deliveries", "show", "2")
    assert code == 0
    assert "last_error:         HTTP 422: Story 2 is not in this project" in out
    assert '"source_commit"' in out
    assert TOKEN not in out
    _, out, _ = run(capsys, "deliveries", "show", "2", "--json")
    shown = json.loads(out)
    assert (shown["state"], shown["attempts"]) == ("dead", 1)
    assert json.loads(shown["body"])["source_commit"]["message"] == "[Finishes #2] commit 2"
    assert TOKEN not in out


@pytest.mark.parametrize(
    "argv",
    [("show", "99"), ("retry", "99")],
    ids=["show", "retry"],
)
def test_an_unknown_id_names_it_and_exits_2(
    queue: QueueStore, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    """An id the queue does not hold is a one-line error naming it, exit status 2."""
    code, out, err = run(capsys, "deliveries", *argv)
    assert (code, out) == (EXIT_USAGE, "")
    assert err == "hookrelay: error: no delivery with id 99\n"


def test_retry_makes_a_dead_delivery_due(
    queue: QueueStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """``retry ID`` puts a dead delivery back in the queue, due now."""
    code, out, _ = run(capsys, "deliveries", "retry", "2")
    assert code == 0
    assert out.startswith("delivery 2 ")
    retried = queue.get(2)
    assert retried is not None
    assert retried.state is State.PENDING


def test_retry_refuses_a_delivered_commit(
    queue: QueueStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """Retrying a delivered commit is refused, exit 2: it would post the commit twice."""
    code, _, err = run(capsys, "deliveries", "retry", "1")
    assert code == EXIT_USAGE
    assert "would post the commit twice" in err
    delivered = queue.get(1)
    assert delivered is not None
    assert delivered.state is State.DELIVERED


def test_retry_dead_retries_the_whole_dead_list(
    queue: QueueStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """``retry --dead`` makes every dead delivery due and says how many."""
    code, out, _ = run(capsys, "deliveries", "retry", "--dead")
    assert code == 0
    assert out.splitlines()[-1] == "1 dead delivery is due again"
    assert queue.counts()[State.DEAD] == 0


def test_retry_needs_an_id_or_dead(queue: QueueStore) -> None:
    """``retry`` with neither an id nor ``--dead`` (or with both) is a usage error."""
    for argv in (["retry"], ["retry", "2", "--dead"]):
        with pytest.raises(SystemExit) as exited:
            main(["deliveries", *argv])
        assert exited.value.code == EXIT_USAGE


def test_a_missing_queue_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Looking at a queue that does not exist fails (exit 1) and leaves no empty file behind."""
    monkeypatch.delenv("HOOKRELAY_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "deliveries", "list")
    assert code == EXIT_FAILURE
    assert "hookrelay.db" in err
    assert not (tmp_path / "hookrelay.db").exists()


def test_a_missing_queue_says_where_the_queue_is_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run outside serve's folder, ``list`` says there is no queue here and how to name one,
    not SQLite's 'unable to open database file'."""
    monkeypatch.delenv("HOOKRELAY_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    _, _, err = run(capsys, "deliveries", "list")
    assert err.startswith("hookrelay: error: no queue at ./hookrelay.db: ")
    assert "HOOKRELAY_DATABASE_URL" in err
    assert "unable to open" not in err


def test_the_default_queue_is_hookrelay_db_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without $HOOKRELAY_DATABASE_URL the command reads ./hookrelay.db, as ``serve`` writes it."""
    monkeypatch.delenv("HOOKRELAY_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///./hookrelay.db")
    queue_commit(store, TARGET, 7, now=1_700_000_000.0)
    store.close()
    code, out, _ = run(capsys, "deliveries", "list", "--json")
    assert code == 0
    assert [d["commit_id"] for d in json.loads(out)["deliveries"]] == [f"{7:040x}"]


def test_a_bad_database_url_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database URL hookrelay cannot use exits 78 with one line naming what it accepts."""
    monkeypatch.setenv("HOOKRELAY_DATABASE_URL", "mysql://root@localhost/queue")
    code, _, err = run(capsys, "deliveries", "list")
    assert code == EXIT_CONFIG
    assert err.count("\n") == 1
    assert "sqlite:///PATH" in err


def test_database_url_option_wins_over_the_environment(
    queue: QueueStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--database-url`` names the queue even when the environment names another."""
    monkeypatch.setenv("HOOKRELAY_DATABASE_URL", "sqlite:///nowhere/at/all.db")
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    code, out, _ = run(capsys, "deliveries", "--database-url", url, "list", "--json")
    assert code == 0
    assert len(json.loads(out)["deliveries"]) == 3


@pytest.mark.parametrize(
    "argv",
    [
        ("show", "99999999999999999999999"),
        ("retry", "99999999999999999999999"),
        ("list", "--before", "99999999999999999999999"),
        ("show", "zero"),
    ],
    ids=["huge-show", "huge-retry", "huge-before", "not-a-number"],
)
def test_an_impossible_id_is_a_usage_error(
    queue: QueueStore, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    """An id that no delivery can have exits 2 with one line, not a traceback."""
    with pytest.raises(SystemExit) as exited:
        run(capsys, "deliveries", *argv)
    assert exited.value.code == EXIT_USAGE
    assert "Traceback" not in capsys.readouterr().err


def test_retry_uses_todays_token_and_says_so(
    queue: QueueStore, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the token is fixed, ``retry ID`` posts with the new one (its fingerprint shown,
    never the token); ``--repository`` goes with ``--dead`` only."""
    monkeypatch.setenv("HOOKRELAY_TRACKER_URL", TARGET)
    monkeypatch.setenv("HOOKRELAY_TRACKER_TOKEN", "the-fixed-token")
    code, out, _ = run(capsys, "deliveries", "retry", "2")
    assert code == 0
    assert f"with today's token (fingerprint {token_fingerprint('the-fixed-token')})" in out
    assert "the-fixed-token" not in out
    retried = queue.get(2)
    assert retried is not None
    assert retried.token == "the-fixed-token"
    code, _, err = run(capsys, "deliveries", "retry", "2", "--repository", "a/b")
    assert code == EXIT_USAGE
    assert "--repository goes with --dead" in err


def test_retry_dead_of_one_repository(
    queue: QueueStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """``retry --dead --repository NAME`` leaves other repositories' dead letters alone."""
    code, out, _ = run(capsys, "deliveries", "retry", "--dead", "--repository", "someone/else")
    assert (code, out) == (0, "0 dead deliveries are due again\n")
    assert queue.counts()[State.DEAD] == 1


def test_show_lists_every_attempt_with_trackers_answer(
    queue: QueueStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """``show`` ends with one line an attempt: its time, outcome and Tracker's answer."""
    code, out, _ = run(capsys, "deliveries", "show", "2")
    assert code == 0
    assert out.splitlines()[-1] == (
        "attempt 1           2023-11-14 22:13:22Z dead: HTTP 422: Story 2 is not in this project"
    )
    code, out, _ = run(capsys, "deliveries", "show", "1", "--json")
    assert json.loads(out)["attempt_log"] == [
        {"number": 1, "at": 1_700_000_001.0, "outcome": "delivered", "answer": ""}
    ]


def test_list_shows_no_error_on_a_dead_letter_delivered_since(
    queue: QueueStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dead letter retried and delivered lists with an empty ERROR column (the refusal it got
    first stays in ``show``'s attempts), so the list never reads as failing what succeeded."""
    assert queue.retry(2, now=1_700_000_010.0)
    leased = next(
        d for d in queue.lease(now=1_700_000_010.0, limit=2, lease_seconds=60) if d.id == 2
    )
    assert queue.mark_delivered(leased, now=1_700_000_011.0)
    _, out, _ = run(capsys, "deliveries", "list", "--state", "delivered")
    row = next(line for line in out.splitlines() if line.split()[0] == "2")
    assert row.split()[1] == "delivered"
    assert "HTTP 422" not in row
