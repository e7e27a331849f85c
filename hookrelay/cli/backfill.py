"""``hookrelay backfill git|svn REPO``: queue a repository's history of story commits.

Reads the history (GitPython; ``svnlook``), leaves out what the repository's hook accounted for
and what names no story, and queues the rest into the configured queue (the settings ``serve``
reads, or ``--database-url``), where commits already queued or delivered are skipped: a second
run queues nothing. A running ``serve`` or ``worker`` delivers them; ``--wait`` waits and says
how many were delivered, are waiting for a retry, or are dead. A progress bar (count, rate,
ETA) is drawn on a terminal, plain lines otherwise. See ``hookrelay.backfill``.

Exit status: 0 done (with ``--wait``: every commit delivered), 1 a repository or the queue
failed (with ``--wait``: some commit is dead or not delivered in time), 2 a bad argument,
78 a bad setting.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["register"]

_BATCH = 500
_PLAIN_EVERY = 1000
_POLL_SECONDS = 0.5


def register(commands: Any) -> None:
    """Add ``backfill git|svn`` to the command line."""
    parser = commands.add_parser(
        "backfill",
        help="queue the story commits of a repository's history",
        description=(
            "Queue the story commits of a git or Subversion repository's history for Tracker, "
            "skipping what is already queued or delivered and what the repository's hook has "
            "sent. Exit status: 0 done, 1 the repository or queue failed (or, with --wait, a "
            "commit is dead or not delivered in time), 2 a bad argument, 78 a bad setting."
        ),
    )
    kinds = parser.add_subparsers(dest="backfill_kind", required=True, metavar="KIND")
    git_parser = kinds.add_parser("git", help="a git repository (bare or not)")
    git_parser.add_argument("repo", type=Path, metavar="REPO")
    git_parser.add_argument(
        "--branch",
        action="append",
        default=[],
        metavar="GLOB",
        help="only branches matching GLOB (again for more; default: every branch)",
    )
    git_parser.add_argument(
        "--since",
        metavar="DATE|REV",
        help="only commits after a date git reads ('2026-01-31', '3 weeks ago') or not "
        "reachable from a revision",
    )
    svn_parser = kinds.add_parser("svn", help="a Subversion repository (its folder on disk)")
    svn_parser.add_argument("repo", type=Path, metavar="REPO")
    svn_parser.add_argument(
        "-r", dest="revisions", metavar="FROM:TO", help="revisions (default 1:HEAD)"
    )
    for kind in (git_parser, svn_parser):
        kind.add_argument(
            "--repository",
            metavar="OWNER/NAME",
            help="the name the settings' routes know it by (default: the folder's name)",
        )
        kind.add_argument(
            "--commit-url",
            metavar="TEMPLATE",
            help="the url field, %%H the commit id (default: the hook's setting)",
        )
        kind.add_argument("--dry-run", action="store_true", help="print what would be queued")
        kind.add_argument(
            "--wait",
            nargs="?",
            type=float,
            const=600.0,
            metavar="SECONDS",
            help="wait (default at most 600 s) for delivery, then report",
        )
        kind.add_argument("--config", type=Path, metavar="FILE", help="the TOML settings file")
        kind.add_argument(
            "--database-url", metavar="URL", help="the queue (default: the settings')"
        )
        kind.set_defaults(handler=run_backfill)


def _repository_name(args: argparse.Namespace) -> str:
    if args.repository:
        return str(args.repository)
    name = str(args.repo.resolve().name)
    return name.removesuffix(".git") or name


def run_backfill(args: argparse.Namespace) -> int:
    """Read the history, queue what is new, report (and with ``--wait``, wait)."""
    from hookrelay import backfill
    from hookrelay.redelivery import routing_of_serve
    from hookrelay.settings import load_settings

    settings = load_settings(args.config)
    routing = routing_of_serve(settings)
    name = _repository_name(args)
    if args.backfill_kind == "git":
        listed, state, template = backfill.git_history_ids(
            args.repo, branches=args.branch, since=args.since
        )
        history = backfill.read_git_history(
            args.repo, listed, args.commit_url if args.commit_url is not None else template
        )
        total = len(listed)
    else:
        revisions, state, template = backfill.svn_revisions(args.repo, args.revisions)
        history = backfill.read_svn_history(
            args.repo, revisions, args.commit_url if args.commit_url is not None else template
        )
        routing = backfill.without_branch_filter(routing)
        total = len(revisions)
    accounted = backfill.hook_accounted(state)
    with _progress(total) as advance:
        tally = backfill.plan_history(
            history, repository=name, routing=routing, accounted=accounted, progress=advance
        )
    database_url = args.database_url or settings.database_url
    if args.dry_run:
        return _dry_run(tally, database_url, name)
    return _queue(args, tally, database_url, name)


class _progress:  # noqa: N801 - used as a context manager, read as a phrase
    """A tqdm bar on a terminal; plain ``read N of M commits`` lines otherwise (stderr)."""

    def __init__(self, total: int) -> None:
        self._total = total
        self._done = 0
        self._bar: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self._total, unit="commit", file=sys.stderr, leave=True)
        return self._advance

    def _advance(self, count: int) -> None:
        self._done += count
        if self._bar is not None:
            self._bar.update(count)
        elif self._done % _PLAIN_EVERY == 0:
            print(f"read {self._done} of {self._total} commits", file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._done % _PLAIN_EVERY:
            print(f"read {self._done} of {self._total} commits", file=sys.stderr)


def _summary(tally: Any, queued: int, known: int, *, dry: bool) -> str:
    verb = "would queue" if dry else "queued"
    return (
        f"{tally.read} commits read: {verb} {queued}, {known} already queued or delivered, "
        f"{tally.accounted} sent by the repository's hook, {tally.skipped} skipped "
        "(no story, or a branch the settings do not relay)"
    )


def _dry_run(tally: Any, database_url: str, name: str) -> int:
    from hookrelay.exceptions import StoreError
    from hookrelay.queue import open_store

    known: set[str] = set()
    try:
        store = open_store(database_url, create=False)
    except StoreError as exc:
        print(f"(the queue cannot be read, so nothing counts as queued: {exc})", file=sys.stderr)
    else:
        try:
            known = store.known_keys([d.dedupe_key for d in tally.deliveries])
        finally:
            store.close()
    new = [d for d in tally.deliveries if d.dedupe_key not in known]
    for delivery in new:
        print(f"would queue {delivery.commit_id[:12]:<12} {name} {delivery.summary}")
    print(_summary(tally, len(new), len(tally.deliveries) - len(new), dry=True))
    return 0


def _new_sqlite_queue(database_url: str) -> str | None:
    """The file of a SQLite queue that does not exist yet (opening it will make it), or None."""
    from hookrelay.queue.database_url import check_database_url, sqlite_path

    if check_database_url(database_url) != "sqlite":
        return None
    path = sqlite_path(database_url.strip())
    return None if path == ":memory:" or Path(path).exists() else path


def _queue(args: argparse.Namespace, tally: Any, database_url: str, name: str) -> int:
    from hookrelay.queue import open_store

    new_file = _new_sqlite_queue(database_url)
    store = open_store(database_url)
    if new_file is not None:
        # No serve has run on this queue: say where the commits wait, or they wait unseen.
        print(
            f"(made a new queue at {new_file}: its commits wait there until serve or worker "
            "runs on it; is HOOKRELAY_DATABASE_URL, or the folder, the one serve uses?)",
            file=sys.stderr,
        )
    try:
        queued = known = 0
        now = time.time()
        for start in range(0, len(tally.deliveries), _BATCH):
            result = store.enqueue(tally.deliveries[start : start + _BATCH], now=now)
            queued += result.queued
            known += result.duplicates
        print(_summary(tally, queued, known, dry=False))
        if args.wait is None:
            return 0
        return _wait(store, tally.deliveries, name, args.wait)
    finally:
        store.close()


def _wait(store: Any, deliveries: Sequence[Any], name: str, seconds: float) -> int:
    """Poll until none of ``deliveries`` is pending or leased (or ``seconds`` pass); report."""
    from hookrelay.queue import State
    from hookrelay.queue.store import DeliveryFilter

    ids = []
    for delivery in deliveries:
        rows = store.find(
            DeliveryFilter(repository=name, commit_prefix=delivery.commit_id), limit=20
        )
        ids += [row.id for row in rows if row.dedupe_key == delivery.dedupe_key]
    deadline = time.monotonic() + seconds
    while True:
        states = [row.state for row in (store.get(i) for i in ids) if row is not None]
        busy = sum(s in (State.PENDING, State.LEASED) for s in states)
        if not busy or time.monotonic() >= deadline:
            break
        time.sleep(_POLL_SECONDS)
    delivered = states.count(State.DELIVERED)
    waiting = states.count(State.WAITING)
    dead = states.count(State.DEAD)
    line = f"delivered {delivered}, waiting {waiting}, dead {dead}"
    if busy:
        line += f", not yet tried {busy} (is serve or worker running?)"
    print(line)
    return 0 if delivered == len(states) else 1
