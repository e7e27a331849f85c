"""Issue 8 point 2 for both hook forms: a Tracker that trickles its answer (status line,
headers or body) holds a git push no longer than the foreground budget plus one post's deadline.

The worker's side of the same case runs in ``tests/delivery/test_worker.py`` (headers trickled
end the attempt at lease / 3) and, through ``serve`` with two SIGKILLs, in ``test_chaos.py``;
the Tracker client's in ``tests/tracker/test_client_faults.py``.
"""

from __future__ import annotations

import time

import pytest

from tests.hooks.repos import GitWorld, install
from tests.hooks.trickle import trickling_tracker

PARTS = ["status", "headers", "body"]
#: Slack for a loaded machine: far below the minute a trickle lasts.
SLACK = 8.0
#: The foreground budget of the pushes below (the shell form counts whole seconds).
BUDGET = 3

# Whether the commit stays spooled, by form and trickled part. After a whole "200 OK" status
# line curl reports the 200 (Tracker has the commit: sent), while httpx sees no status before
# the headers end and keeps the commit to post again: a possible duplicate, never a loss.
STAYS_SPOOLED = {
    ("shell", "status"): True,
    ("python", "status"): True,
    ("shell", "headers"): False,
    ("python", "headers"): True,
    ("shell", "body"): False,
    ("python", "body"): False,
}


@pytest.mark.parametrize("part", PARTS, ids=PARTS)
def test_a_trickling_tracker_holds_a_push_no_longer_than_the_budget(
    git_world: GitWorld, form: str, part: str
) -> None:
    """With a 3-second foreground budget, a Tracker trickling its answer (status line, headers
    or body) holds the push about the budget plus one post's deadline, not the minute it
    trickles; a commit with no status known stays spooled and is logged as waiting."""
    with trickling_tracker(part) as tracker:
        url = f"{tracker.url}/services/v3"
        install("git", git_world.server, form, url, "--foreground-seconds", str(BUDGET))
        git_world.commit("[#1] slow Tracker")
        started = time.monotonic()
        said = git_world.push("main")
        took = time.monotonic() - started
    assert took < BUDGET + 1 + SLACK, said
    spooled = list((git_world.state() / "spool").iterdir())
    log = (git_world.state() / "hookrelay.log").read_text()
    if STAYS_SPOOLED[form, part]:
        assert len(spooled) == 1
        assert "spooled for the next run" in said
        assert "waiting" in log
    else:
        assert spooled == []
        assert "1 sent" in said
