"""What an installed hook runs (``hookrelay hook …``): the same job as the shell hooks.

1. Run the hook that was installed before hookrelay (``<hook>.before-hookrelay``), with the same
   arguments and standard input; its exit status becomes the hook's.
2. List the commits to relay (post-receive: new to the repository; post-commit: HEAD; svn: the
   revision) and add them to the spool, in one pass.
3. Send the spool while the pusher waits when it is small (at most ``FOREGROUND_COMMITS``), for
   at most ``foregroundseconds``; hand a bigger spool, or what time left over, to a background
   copy of this command (``--resend``, with ``HOOKRELAY_BACKGROUND=1``) and return. A push of a
   thousand commits costs the pusher the spooling, not a thousand round trips.

Every post has a whole-request deadline (``hookrelay.hooks.deadline``): what is left of the
foreground budget (at least a second), or ``POST_DEADLINE`` in the background. So a push is
never held past the budget plus a second, however Tracker trickles its answer.

One driver serves git and Subversion: each is a ``HookSystem`` (``git_reader.GitSystem``,
``svn_reader.SvnSystem``) that knows its state folder, its settings, which commits a run adds
and how to read one. Nothing here may fail a push: every error is logged, summed up in one
line, and the CLI exits with the chained hook's status.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.text import shorten
from hookrelay.exceptions import ConfigError
from hookrelay.hooks.hook_log import HookLog
from hookrelay.hooks.relay import PassEnd, RelayReport, send_spool
from hookrelay.hooks.settings import HookSettings
from hookrelay.hooks.spool import Spool

if TYPE_CHECKING:
    from hookrelay.hooks.deadline import DeadlinePoster

__all__ = [
    "BACKGROUND_ENV",
    "CHAINED_SUFFIX",
    "FOREGROUND_COMMITS",
    "POST_DEADLINE",
    "HookSystem",
    "run_chained",
    "run_hook",
]

CHAINED_SUFFIX = ".before-hookrelay"
BACKGROUND_ENV = "HOOKRELAY_BACKGROUND"
#: A spool up to this size is sent while the pusher waits; a bigger one goes to the background.
FOREGROUND_COMMITS = 8
#: Seconds one post may take, connect to last byte, in the background.
POST_DEADLINE = 30.0


class HookSystem(Protocol):
    """What the driver needs of one repository, git or Subversion."""

    #: The folder of hookrelay's spool, log and (git) token.
    state: Path
    #: Whether the repository is shared with a group (its files are then group-writable).
    shared: bool
    #: The hook's name in the log ("post-receive", "post-commit").
    job: str
    #: The ``hookrelay`` arguments that send this repository's spool in the background.
    respawn: list[str]

    def read_settings(self) -> HookSettings:
        """The hook's settings; ``ConfigError`` when they are missing or bad."""
        ...

    def new_commits(self, settings: HookSettings) -> list[str]:
        """The commits this run adds to the spool, oldest first."""
        ...

    def read(self, commit_id: str, settings: HookSettings) -> SourceCommit | None:
        """The ``source_commit`` for one spooled commit; ``None`` when it is gone."""
        ...


def run_chained(hook_path: str | None, args: Sequence[str], stdin: bytes | None) -> int:
    """Run the hook hookrelay displaced, if any, as git or svn would have; return its status."""
    if not hook_path:
        return 0
    chained = Path(hook_path + CHAINED_SUFFIX)
    if not (chained.is_file() and os.access(chained, os.X_OK)):
        return 0
    # stdin None: the chained hook reads the same standard input this hook was given.
    return subprocess.run([str(chained.absolute()), *args], input=stdin, check=False).returncode


def run_hook(system: HookSystem, *, resend: bool, started: float | None = None) -> str:
    """Spool this run's commits and send the spool; return the line for the pusher ('' for
    none). ``started`` (``time.monotonic()``) is when the hook began: the budget counts from it.
    """
    with _umask(0o007 if system.shared else 0o077):
        log = HookLog(system.state / "hookrelay.log", system.job)
        try:
            settings = system.read_settings()
        except ConfigError as exc:
            return _nothing_sent(system, log, str(exc))
        log = HookLog(system.state / "hookrelay.log", system.job, settings.token)
        try:
            spool = Spool(system.state, shared=system.shared)
            spool.create()
            if not resend:
                spool.add(system.new_commits(settings), now=int(time.time()), pid=os.getpid())
            return _relay(system, spool, settings, log, started=started)
        except Exception as exc:  # noqa: BLE001 - a hook must never fail the push it serves
            return _nothing_sent(system, log, f"{type(exc).__name__}: {exc}")


def _nothing_sent(system: HookSystem, log: HookLog, reason: str) -> str:
    line = shorten(log.redact(reason), 300)
    if system.state.is_dir():
        log.write(f"nothing sent: {line}")
    return f"hookrelay: nothing sent: {line}"


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    """Files and folders the hook makes get ``mask`` (private, or group-shared: never world)."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _relay(
    system: HookSystem,
    spool: Spool,
    settings: HookSettings,
    log: HookLog,
    *,
    started: float | None,
) -> str:
    background = os.environ.get(BACKGROUND_ENV) == "1"
    budget = None if background else settings.foreground_seconds
    deadline = None if budget is None else (started or time.monotonic()) + budget
    report = RelayReport()
    handed_off = False
    waiting = 0 if background else spool.waiting()
    out_of_time = deadline is not None and time.monotonic() >= deadline
    if waiting > FOREGROUND_COMMITS or (waiting and out_of_time):
        handed_off = _hand_off(system, spool, log, waiting)  # httpx is not even imported
    else:
        with _poster(settings, connect=3.0 if background else 1.0) as poster:

            def read(commit_id: str) -> SourceCommit | None:
                return system.read(commit_id, settings)

            while spool.try_lock():
                try:
                    spool.expand()
                    end = send_spool(
                        spool,
                        read,
                        poster,
                        log,
                        report,
                        all_commits=settings.all_commits,
                        deadline=deadline,
                        limit=None if background else FOREGROUND_COMMITS,
                        post_deadline=POST_DEADLINE,
                    )
                finally:
                    spool.unlock()
                if end is PassEnd.OUT_OF_TIME:
                    handed_off = _hand_off(system, spool, log, spool.waiting())
                    break
                # Another hook may have spooled commits while this one held the lock.
                if end is PassEnd.STOPPED or not spool.waiting():
                    break
    if background:
        return ""
    if handed_off:
        return f"hookrelay: {report.sent} sent; the rest goes in the background (see {log.path})"
    return report.summary(str(log.path))


@contextmanager
def _poster(settings: HookSettings, *, connect: float) -> Iterator[DeadlinePoster]:
    """A ``DeadlinePoster`` for the settings' target, over one kept-alive connection."""
    # httpx is imported here: a push handed straight to the background never pays for it.
    from hookrelay.hooks.deadline import DeadlinePoster, deadline_timeout  # noqa: PLC0415
    from hookrelay.tracker.client import TrackerClient, make_http_client  # noqa: PLC0415

    with make_http_client(deadline_timeout(POST_DEADLINE, connect=connect)) as http:
        client = TrackerClient(http, settings.target, settings.token, answer_within=POST_DEADLINE)
        yield DeadlinePoster(client)


def _hand_off(system: HookSystem, spool: Spool, log: HookLog, waiting: int) -> bool:
    """Start ``hookrelay <respawn>`` detached (no stdin/stdout/stderr, new session, nohup), so
    that git, which waits for its hooks' output pipes to close, does not wait for it."""
    log.write(f"handing {waiting} commits to the background")
    argv = [sys.executable, "-I", "-m", "hookrelay", *system.respawn]  # -I: see installer.py
    subprocess.run(
        ["/bin/sh", "-c", 'nohup "$@" </dev/null >/dev/null 2>&1 &', "hookrelay", *argv],
        env={**os.environ, BACKGROUND_ENV: "1"},
        check=False,
        timeout=30,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return True
