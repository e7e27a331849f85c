"""Sending a repository's spool to Tracker, oldest first, inside a time budget.

One pass takes the spooled commits in order and, for each: reads it from the repository, drops
it if it names no story (unless every commit is wanted), posts it over one kept-alive HTTP
connection, and acts on Tracker's answer:

==============  =================================================================
answer          what happens
==============  =================================================================
``Delivered``   the entry leaves the spool
``Refused``     the entry moves to ``refused/`` and the log says why; the pass goes on
``RetryLater``  the entry stays; the pass stops (Tracker is down or overloaded), and
                the next run of the hook starts again from the oldest entry
==============  =================================================================

A commit Tracker answers with a server error every time (a *poison* commit) must not hold the
others back forever: each run in which Tracker answered an entry with a 5xx other than 503
(503 says Tracker is down for everyone) is counted in the entry's file, and after
``MAX_FAILED_RUNS`` such runs the entry is set aside in ``refused/`` with Tracker's last answer,
as a refused commit is, and the pass goes on. No answer at all (refused connection, timeout)
and 503/429 are never counted: Tracker being down costs no commit its place.

The pass also ends (``OUT_OF_TIME``) when the clock passes the deadline or it has handled its
``limit`` of entries; the caller then hands the rest to a background process (see
``hookrelay.hooks.run``). Each post is bounded as a whole: by what is left until the deadline
(at least a second), else by ``post_deadline``; a post cut short is ``RetryLater``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import Delivered, Outcome, Refused
from hookrelay.exceptions import RepositoryError
from hookrelay.hooks.commit_text import names_story
from hookrelay.hooks.hook_log import HookLog
from hookrelay.hooks.spool import Spool

__all__ = ["MAX_FAILED_RUNS", "CommitReader", "PassEnd", "Poster", "RelayReport", "send_spool"]

#: Runs in which Tracker answered an entry with a server error before it is set aside.
MAX_FAILED_RUNS = 10

#: Reads one spooled commit; ``None`` when the repository no longer has it.
CommitReader = Callable[[str], SourceCommit | None]


class Poster(Protocol):
    """Posts one commit to Tracker within a whole-request deadline (``DeadlinePoster``)."""

    def post(self, commit: SourceCommit, *, within: float) -> Outcome:
        """Post ``commit``; what Tracker answered, or ``RetryLater`` past ``within`` seconds."""
        ...


class PassEnd(enum.Enum):
    """Why a pass over the spool ended (STOPPED: Tracker or the repository failed;
    OUT_OF_TIME: the deadline passed or the pass handled its limit of entries)."""

    EMPTY = "empty"
    STOPPED = "stopped"
    OUT_OF_TIME = "out of time"


@dataclass
class RelayReport:
    """What the hook did, for the one line the person who pushed sees."""

    sent: int = 0
    skipped: int = 0
    refused: int = 0
    problem: str = ""

    def summary(self, log_path: str) -> str:
        """One line for the pusher, or '' when there is nothing worth saying."""
        if self.problem:
            return (
                f"hookrelay: {self.sent} sent; {self.problem}; the rest is spooled for the next run"
            )
        if self.sent or self.refused:
            return (
                f"hookrelay: {self.sent} sent to Tracker, {self.refused} refused (see {log_path})"
            )
        return ""


def send_spool(
    spool: Spool,
    read: CommitReader,
    poster: Poster,
    log: HookLog,
    report: RelayReport,
    *,
    all_commits: bool,
    deadline: float | None,
    limit: int | None = None,
    post_deadline: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
) -> PassEnd:
    """Send what the spool holds, oldest first, until it is empty, Tracker fails, or time (or
    the ``limit`` of entries) is up."""
    for handled, entry in enumerate(spool.pending()):
        out_of_time = deadline is not None and clock() >= deadline
        if out_of_time or (limit is not None and handled >= limit):
            return PassEnd.OUT_OF_TIME
        try:
            commit = read(entry.commit_id)
        except RepositoryError as exc:
            report.problem = f"could not read commit {entry.commit_id}: {exc}"
            log.write(f"waiting {entry.commit_id}: {report.problem}")
            return PassEnd.STOPPED
        if commit is None:
            log.write(f"dropped {entry.commit_id}: not in the repository")
            spool.remove(entry)
            continue
        if not all_commits and not names_story(commit):
            report.skipped += 1
            spool.remove(entry)
            continue
        within = post_deadline if deadline is None else min(post_deadline, deadline - clock())
        outcome = poster.post(commit, within=max(1.0, within))
        if isinstance(outcome, Delivered):
            report.sent += 1
            spool.remove(entry)
            log.write(f"sent {entry.commit_id}: HTTP {outcome.status}")
        elif isinstance(outcome, Refused):
            report.refused += 1
            spool.refuse(entry)
            log.write(f"refused {entry.commit_id}: {outcome.reason} (kept in hookrelay/refused)")
        elif (
            outcome.status >= 500
            and outcome.status != 503
            and spool.count_failure(entry) >= MAX_FAILED_RUNS
        ):
            report.refused += 1
            spool.refuse(entry)
            log.write(
                f"refused {entry.commit_id}: gave up after {MAX_FAILED_RUNS} runs: "
                f"{outcome.reason} (kept in hookrelay/refused)"
            )
        else:
            report.problem = f"Tracker unavailable ({outcome.reason})"
            log.write(f"waiting {entry.commit_id}: {report.problem}")
            return PassEnd.STOPPED
    return PassEnd.EMPTY
