"""One pass over the spool: what each answer, missing commit and deadline does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import TrackerTarget
from hookrelay.exceptions import RepositoryError
from hookrelay.hooks.deadline import DeadlinePoster
from hookrelay.hooks.hook_log import HookLog
from hookrelay.hooks.relay import MAX_FAILED_RUNS, PassEnd, RelayReport, send_spool
from hookrelay.hooks.spool import Spool
from hookrelay.tracker.client import TrackerClient, make_http_client
from tests.support.recorder import Recorder, Reply

COMMITS = {
    "aa": SourceCommit.of(commit_id="aa", message="[#1] one", author="a"),
    "bb": SourceCommit.of(commit_id="bb", message="no story", author="a"),
    "dd": SourceCommit.of(commit_id="dd", message="[#4] four", author="a"),
}


def read(commit_id: str) -> SourceCommit | None:
    """A fake repository: the commits above; 'ee' cannot be read; others are gone."""
    if commit_id == "ee":
        raise RepositoryError("svnlook failed")
    return COMMITS.get(commit_id)


@pytest.fixture
def client(recorder: Recorder) -> Iterator[DeadlinePoster]:
    """The hook's poster (a Tracker client with a whole-request deadline) to the recorder."""
    with make_http_client() as http:
        tracker = TrackerClient(http, TrackerTarget.parse(f"{recorder.url}/services/v3"), "t")
        yield DeadlinePoster(tracker)


def spool_of(tmp_path: Path, *ids: str) -> Spool:
    """A spool holding ``ids`` in order."""
    spool = Spool(tmp_path)
    spool.create()
    spool.add(ids, now=1, pid=1)
    spool.expand()
    return spool


def test_pass_sends_story_commits_and_drops_the_rest(
    tmp_path: Path, client: DeadlinePoster, recorder: Recorder
) -> None:
    """Story commits are posted; a no-story commit and a vanished one leave the spool unsent."""
    spool = spool_of(tmp_path, "aa", "bb", "cc", "dd")
    log = HookLog(tmp_path / "log", "test")
    report = RelayReport()
    end = send_spool(spool, read, client, log, report, all_commits=False, deadline=None)
    assert end is PassEnd.EMPTY
    assert (report.sent, report.skipped) == (2, 1)
    assert len(recorder.received) == 2
    assert "dropped cc: not in the repository" in (tmp_path / "log").read_text()
    assert spool.pending() == []


def test_unreadable_commit_stops_the_pass_and_stays(tmp_path: Path, client: DeadlinePoster) -> None:
    """A repository error stops the pass with the entry still spooled."""
    spool = spool_of(tmp_path, "ee", "aa")
    report = RelayReport()
    log = HookLog(tmp_path / "log", "test")
    end = send_spool(spool, read, client, log, report, all_commits=False, deadline=None)
    assert end is PassEnd.STOPPED
    assert [e.commit_id for e in spool.pending()] == ["ee", "aa"]
    assert "svnlook failed" in report.problem


def test_pass_past_its_deadline_sends_nothing_more(
    tmp_path: Path, client: DeadlinePoster, recorder: Recorder
) -> None:
    """Once the clock passes the deadline the pass ends, leaving the rest for the background."""
    spool = spool_of(tmp_path, "aa", "dd")
    ticks = iter([0.0, 0.5, 5.0])  # before aa, its post, before dd
    log = HookLog(tmp_path / "log", "test")
    end = send_spool(
        spool,
        read,
        client,
        log,
        RelayReport(),
        all_commits=False,
        deadline=1.0,
        clock=lambda: next(ticks),
    )
    assert end is PassEnd.OUT_OF_TIME
    assert len(recorder.received) == 1
    assert [e.commit_id for e in spool.pending()] == ["dd"]


@pytest.mark.parametrize(("status", "set_aside"), [(500, True), (502, True), (503, False)])
def test_server_errors_set_an_entry_aside_after_ten_runs_but_never_503(
    tmp_path: Path, client: DeadlinePoster, recorder: Recorder, status: int, set_aside: bool
) -> None:
    """Ten runs with a 5xx for the oldest entry move it to refused/ and the pass goes on to the
    next; a 503 (Tracker down for everyone) keeps it waiting however often it comes."""
    recorder.responder = lambda request: (
        Reply(status) if b"<commit_id>aa<" in request.body else Reply(200)
    )
    spool = spool_of(tmp_path, "aa", "dd")
    log = HookLog(tmp_path / "log", "test")
    for _ in range(MAX_FAILED_RUNS - 1):
        end = send_spool(spool, read, client, log, RelayReport(), all_commits=False, deadline=None)
        assert end is PassEnd.STOPPED
    end = send_spool(spool, read, client, log, RelayReport(), all_commits=False, deadline=None)
    if set_aside:
        assert end is PassEnd.EMPTY
        assert spool.pending() == []
        assert [p.name.rsplit(".", 1)[1] for p in spool.refused_folder.iterdir()] == ["aa"]
    else:
        assert end is PassEnd.STOPPED
        assert [e.commit_id for e in spool.pending()] == ["aa", "dd"]
        assert list(spool.refused_folder.iterdir()) == []
