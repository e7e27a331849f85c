"""What an installed hook runs (``hookrelay hook …``): the same job as the shell hooks.

1. Run the hook that was installed before hookrelay (``<hook>.before-hookrelay``), with the same
   arguments and standard input; its exit status becomes the hook's.
2. List the commits to relay (post-receive: new to the repository; post-commit: HEAD; svn: the
   revision) and add them to the spool.
3. Send the spool, oldest first, for at most ``foregroundseconds``; then hand what is left to a
   background copy of this command (``--resend``, with ``HOOKRELAY_BACKGROUND=1``) and return,
   so a push of a thousand commits costs the pusher a few seconds, not a thousand round trips.

Nothing here may fail a push: the CLI catches every error, logs it and exits with the chained
hook's status.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import git
import httpx

from hookrelay.core.source_commit import SourceCommit
from hookrelay.exceptions import ConfigError
from hookrelay.hooks import git_reader, svn_reader
from hookrelay.hooks.hook_log import HookLog
from hookrelay.hooks.relay import CommitReader, PassEnd, RelayReport, send_spool
from hookrelay.hooks.settings import HookSettings
from hookrelay.hooks.spool import Spool
from hookrelay.tracker.client import (
    DEFAULT_ANSWER_WITHIN,
    DEFAULT_TIMEOUT,
    TrackerClient,
    make_http_client,
)

__all__ = [
    "BACKGROUND_ENV",
    "CHAINED_SUFFIX",
    "run_chained",
    "run_git_hook",
    "run_svn_hook",
]

CHAINED_SUFFIX = ".before-hookrelay"
BACKGROUND_ENV = "HOOKRELAY_BACKGROUND"


def run_chained(hook_path: str | None, args: Sequence[str], stdin: bytes | None) -> int:
    """Run the hook hookrelay displaced, if any, as git or svn would have; return its status."""
    if not hook_path:
        return 0
    chained = Path(hook_path + CHAINED_SUFFIX)
    if not (chained.is_file() and os.access(chained, os.X_OK)):
        return 0
    # stdin None: the chained hook reads the same standard input this hook was given.
    return subprocess.run([str(chained.absolute()), *args], input=stdin, check=False).returncode


def run_git_hook(job: str, stdin: bytes, *, resend: bool, started: float | None = None) -> str:
    """Relay a git push (``post-receive``) or commit (``post-commit``); return the summary.

    ``started`` (``time.monotonic()``) is when the hook began: the time budget counts from it.
    """
    with git_reader.open_repository() as repo:
        shared = git_reader.shared_repository(repo)
        with _umask(0o007 if shared else 0o077):
            return _run_git_hook(repo, job, stdin, resend=resend, started=started, shared=shared)


def _run_git_hook(
    repo: git.Repo, job: str, stdin: bytes, *, resend: bool, started: float | None, shared: bool
) -> str:
    state = git_reader.state_folder(repo)
    try:
        settings = git_reader.read_settings(repo)
    except ConfigError as exc:
        return _not_configured(state, job, exc)
    spool = Spool(state, shared=shared)
    spool.create()
    if not resend:
        if job == "post-receive":
            updates = git_reader.read_ref_updates(stdin)
            commits = git_reader.new_commits(repo, updates, settings, state)
        else:
            commits = git_reader.head_commit(repo, settings)
        spool.add(commits, now=int(time.time()), pid=os.getpid())

    def read(commit_id: str) -> SourceCommit | None:
        return git_reader.read_commit(repo, commit_id, settings.commit_url)

    respawn = ["hook", f"git-{job}", "--resend"]
    log = HookLog(state / "hookrelay.log", job, settings.token)
    return _relay(spool, read, settings, log, respawn, started=started)


def run_svn_hook(
    repository: Path, revision: str | None, *, resend: bool, started: float | None = None
) -> str:
    """Relay one Subversion revision (post-commit); return the summary."""
    with _umask(0o077):
        return _run_svn_hook(repository, revision, resend=resend, started=started)


def _run_svn_hook(
    repository: Path, revision: str | None, *, resend: bool, started: float | None
) -> str:
    repository = repository.resolve()
    state = svn_reader.state_folder(repository)
    try:
        settings = svn_reader.read_settings(repository)
    except ConfigError as exc:
        return _not_configured(state, "post-commit", exc)
    spool = Spool(state)
    spool.create()
    if not resend and revision is not None:
        spool.add([revision], now=int(time.time()), pid=os.getpid())

    def read(commit_id: str) -> SourceCommit | None:
        return svn_reader.read_revision(repository, commit_id, settings.commit_url)

    respawn = ["hook", "svn-post-commit", "--resend", str(repository)]
    log = HookLog(state / "hookrelay.log", "post-commit", settings.token)
    return _relay(spool, read, settings, log, respawn, started=started)


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    """Files and folders the hook makes get ``mask`` (private, or group-shared: never world)."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _not_configured(state: Path, job: str, exc: ConfigError) -> str:
    if state.is_dir():
        HookLog(state / "hookrelay.log", job).write(f"nothing sent: {exc}")
    return f"hookrelay: nothing sent: {exc}"


def _relay(
    spool: Spool,
    read: CommitReader,
    settings: HookSettings,
    log: HookLog,
    respawn: list[str],
    *,
    started: float | None,
) -> str:
    background = os.environ.get(BACKGROUND_ENV) == "1"
    budget = None if background else settings.foreground_seconds
    deadline = None if budget is None else (started or time.monotonic()) + budget
    timeout = DEFAULT_TIMEOUT
    if budget is not None:
        # In the foreground no single request may outlast the whole budget.
        timeout = httpx.Timeout(max(1.0, budget), connect=min(3.0, max(1.0, budget)))
    report = RelayReport()
    handed_off = False
    # One client for the whole pass: every post reuses one kept-alive connection.
    with make_http_client(timeout) as http:
        client = TrackerClient(
            http,
            settings.target,
            settings.token,
            answer_within=DEFAULT_ANSWER_WITHIN if budget is None else max(1.0, budget),
        )
        while spool.try_lock():
            try:
                end = send_spool(
                    spool,
                    read,
                    client,
                    log,
                    report,
                    all_commits=settings.all_commits,
                    deadline=deadline,
                )
            finally:
                spool.unlock()
            if end is PassEnd.OUT_OF_TIME:
                log.write(f"handing {len(spool.pending())} commits to the background")
                _hand_off(respawn)
                handed_off = True
                break
            # Another hook may have spooled commits while this one held the lock.
            if end is PassEnd.STOPPED or not spool.pending():
                break
    if background:
        return ""
    summary = report.summary(str(log.path))
    if handed_off:
        summary = f"hookrelay: {report.sent} sent; the rest goes in the background (see {log.path})"
    return summary


def _hand_off(command: list[str]) -> None:
    """Start ``hookrelay <command>`` detached (no stdin/stdout/stderr, new session, nohup), so
    that git, which waits for its hooks' output pipes to close, does not wait for it."""
    argv = [sys.executable, "-I", "-m", "hookrelay", *command]  # -I: see installer.py
    subprocess.run(
        ["/bin/sh", "-c", 'nohup "$@" </dev/null >/dev/null 2>&1 &', "hookrelay", *argv],
        env={**os.environ, BACKGROUND_ENV: "1"},
        check=False,
        timeout=30,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
