"""The hook's whole-request deadline, on its own and in a push, against a trickling Tracker.

The bounds asserted here are correctness bounds (a post ends near its deadline instead of in
a minute, when the trickle would stop), with wide margins for a loaded machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import Delivered, Outcome, RetryLater, TrackerTarget
from hookrelay.hooks.deadline import DeadlinePoster, deadline_timeout
from hookrelay.tracker.client import TrackerClient, make_http_client
from tests.hooks.trickle import trickling_tracker
from tests.support.recorder import Recorder

COMMIT = SourceCommit.of(commit_id="abc", message="[#1] one", author="Ada")
#: Slack for a loaded machine: far below the minute a trickle lasts.
SLACK = 8.0
PARTS = ["status", "headers", "body"]


@contextmanager
def poster_to(url: str) -> Iterator[DeadlinePoster]:
    """The hook's poster to ``url`` (a v3 target), as ``hookrelay.hooks.run`` builds it."""
    with make_http_client(deadline_timeout(30.0)) as http:
        client = TrackerClient(http, TrackerTarget.parse(f"{url}/services/v3"), "t0k3n")
        yield DeadlinePoster(client)


def timed_post(poster: DeadlinePoster, within: float) -> tuple[Outcome, float]:
    """Post COMMIT; its outcome and the seconds it took."""
    started = time.monotonic()
    outcome = poster.post(COMMIT, within=within)
    return outcome, time.monotonic() - started


@pytest.mark.parametrize("part", PARTS, ids=PARTS)
def test_a_trickled_answer_is_cut_at_the_deadline(part: str) -> None:
    """A post whose status line or headers trickle ends at its deadline as RetryLater (httpx
    gives no status before the headers end); one whose body trickled after a whole 200 head is
    delivered (Tracker has the commit)."""
    with trickling_tracker(part) as tracker, poster_to(tracker.url) as poster:
        outcome, took = timed_post(poster, within=1.0)
    assert took < 1.0 + SLACK
    if part == "body":
        assert outcome == Delivered(200)
    else:
        assert isinstance(outcome, RetryLater)
        assert outcome.status == 0
        assert "did not answer in time" in outcome.reason


def test_a_post_in_time_is_not_cut(recorder: Recorder) -> None:
    """Posts that answer in time are delivered, over one kept-alive connection, and the
    deadline of each never cuts the next one."""
    with poster_to(recorder.url) as poster:
        outcomes = [poster.post(COMMIT, within=1.0) for _ in range(3)]
    assert outcomes == [Delivered(200)] * 3
    assert recorder.connections == 1
