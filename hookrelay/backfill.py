"""Sending a repository's history: read git or Subversion commits and queue the story commits.

``hookrelay backfill`` is for commits that reached a repository while no hook ran (before it was
installed, or while it was broken). It reads the history (GitPython; ``svnlook``), routes each
commit as a push of that repository would be routed (``hookrelay.core.routing.plan_push``: the
repository's route, its branch globs, commits that name no story skipped), and queues it into
the configured queue, where the dedupe key skips whatever is already queued or was delivered:
running it twice queues nothing the second time. A running ``serve`` or ``worker`` delivers it.

Commits the repository's own hook has accounted for are left out, so a hook's commits are not
posted twice: those its log names (``hookrelay/hookrelay.log`` and the rotated ``.log.1``:
sent, refused, waiting, dropped) and those in its ``spool/`` and ``refused/`` folders. Those are
the commits the hook took in hand; the record of accounted tips (``hookrelay/accounted``) is not
used, because it also holds the tips the hook found on its first run and the commits pushed
while it was broken, which it never sent. A hook's log keeps about two megabytes (some 20,000
lines); ``--since`` bounds a backfill of a repository whose log has rotated away older sends.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hookrelay.core.branches import branch_relays
from hookrelay.core.routing import Routing, plan_push
from hookrelay.core.webhooks import Push, PushedCommit
from hookrelay.exceptions import InputError, RepositoryError
from hookrelay.hooks import svn_reader
from hookrelay.hooks.commit_text import CommitText, commit_url, read_git_commit
from hookrelay.hooks.settings import parse_conf
from hookrelay.queue.store import NewDelivery

__all__ = [
    "HistoryCommit",
    "Tally",
    "hook_accounted",
    "plan_history",
    "read_git_history",
    "read_svn_history",
]

_LOGGED = re.compile(r"^\S+ \S+ (?:sent|refused|waiting|dropped) ([0-9a-f]+):")
_SPOOLED = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+\.([0-9a-f]+)$")


@dataclass(frozen=True, slots=True)
class HistoryCommit:
    """One commit of a repository's history, with the branch it was found on."""

    commit_id: str
    text: CommitText
    url: str
    branch: str


@dataclass(slots=True)
class Tally:
    """What a backfill found, commit by commit."""

    read: int = 0
    accounted: int = 0
    skipped: int = 0
    deliveries: list[NewDelivery] = field(default_factory=list)


def hook_accounted(state: Path) -> set[str]:
    """The commit ids a hook has taken in hand, read from its folder (see the module)."""
    accounted: set[str] = set()
    for log in (state / "hookrelay.log.1", state / "hookrelay.log"):
        try:
            text = log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            match = _LOGGED.match(line)
            if match is not None:
                accounted.add(match.group(1))
    for folder in (state / "spool", state / "refused"):
        try:
            names = [path.name for path in folder.iterdir()]
        except OSError:
            continue
        for name in names:
            match = _SPOOLED.match(name)
            if match is not None:
                accounted.add(match.group(1))
    return accounted


def git_history_ids(
    repository: Path, *, branches: Sequence[str] = (), since: str | None = None
) -> tuple[list[tuple[str, str]], Path, str]:
    """The commits of the branches matching ``branches`` (every branch by default), oldest
    first, each once with the branch it was reached from; the hook's state folder; and the
    hook's commit URL template (``git config hookrelay.commiturl``).

    ``since`` is a revision (only commits it does not reach) or a date git reads
    (``2026-01-31``, ``3 weeks ago``).
    """
    # GitPython (and so git) is loaded only for a git history: backfill svn runs without git.
    import git  # noqa: PLC0415

    from hookrelay.hooks import git_reader  # noqa: PLC0415

    repo = git_reader.open_repository(repository)
    heads = {}
    for ref in _git_lines(repo, "for-each-ref", "--format=%(refname)", "refs/heads/"):
        name = ref.removeprefix("refs/heads/")
        if branch_relays(name, branches):
            heads[name] = ref
    template = str(repo.git.config("--get", "hookrelay.commiturl", with_exceptions=False))
    if not heads:
        return [], git_reader.state_folder(repo), template
    # %S names the ref each commit was reached from (git log's --source).
    arguments = ["--reverse", "--topo-order", "--format=%H%x09%S", *heads.values()]
    if since:
        try:
            base = repo.git.rev_parse("--verify", "--quiet", f"{since}^{{commit}}")
        except git.GitCommandError:
            base = ""
        arguments += [f"^{base}"] if base else [f"--since={_git_date(repo, since)}"]
    listed = []
    for line in _git_lines(repo, "log", *arguments, "--"):
        commit_id, _, source = line.partition("\t")
        listed.append((commit_id, source.strip().removeprefix("refs/heads/")))
    return listed, git_reader.state_folder(repo), template


def _git_date(repo: Any, text: str) -> str:
    """``text`` if git reads it as a date; git reads anything it cannot as "now", so a word
    that is neither a revision nor a date is an ``InputError`` rather than an empty history."""

    (parsed,) = _git_lines(repo, "rev-parse", f"--since={text}")
    seconds = parsed.removeprefix("--max-age=")
    if (
        seconds.isdigit()
        and abs(int(seconds) - time.time()) < 5
        and text.strip().lower() not in ("now", "today")
    ):
        raise InputError(f"--since {text!r} is neither a revision nor a date git reads")
    return text


def _git_lines(repo: Any, *args: str) -> list[str]:
    import git  # noqa: PLC0415 - see git_history_ids

    try:
        output = repo.git.execute(["git", *args])
    except git.GitCommandError as exc:
        reason = str(exc.stderr).strip().removeprefix("stderr:").strip(" '\n")
        first = reason.splitlines()[0] if reason else f"exit {exc.status}"
        raise RepositoryError(f"git {args[0]} failed: {first}") from exc
    return [line for line in str(output).splitlines() if line.strip()]


def read_git_history(
    repository: Path, listed: Sequence[tuple[str, str]], url_template: str
) -> Iterator[HistoryCommit]:
    """Read each listed commit's text, in order."""
    from hookrelay.hooks import git_reader  # noqa: PLC0415 - see git_history_ids

    repo = git_reader.open_repository(repository)
    for commit_id, branch in listed:
        stream = repo.odb.stream(bytes.fromhex(commit_id))
        yield HistoryCommit(
            commit_id=commit_id,
            text=read_git_commit(stream.read()),
            url=commit_url(url_template, commit_id),
            branch=branch,
        )


def svn_revisions(repository: Path, revisions: str | None) -> tuple[list[str], Path, str]:
    """The revisions ``FROM:TO`` names (default ``1:HEAD``) that the repository has, oldest
    first; the hook's state folder; the hook's commit URL template (``conf/hookrelay.conf``)."""

    svn_reader.check_repository(repository)
    youngest = _svnlook_text("youngest", str(repository))
    if not youngest.isdigit():
        raise RepositoryError(f"svnlook youngest printed {youngest!r}, not a revision")
    head = int(youngest)
    first, last = _revision_range(revisions or "1:HEAD", head)
    try:
        conf = (repository / "conf" / svn_reader.CONF_NAME).read_text(
            encoding="utf-8", errors="replace"
        )
    except OSError:
        conf = ""
    template = parse_conf(conf).get("commiturl", "")
    step = 1 if first <= last else -1
    numbers = [n for n in range(first, last + step, step) if 1 <= n <= head]
    return [str(n) for n in sorted(numbers)], svn_reader.state_folder(repository), template


def _revision_range(text: str, head: int) -> tuple[int, int]:
    def one(part: str) -> int:
        part = part.strip()
        if part.upper() == "HEAD":
            return head
        if not part.isdigit():
            raise InputError(f"-r {text!r}: {part!r} is not a revision number or HEAD")
        return int(part)

    start, colon, end = text.partition(":")
    return (one(start), one(end)) if colon else (one(start), one(start))


def _svnlook_text(*args: str) -> str:

    try:
        answer = subprocess.run(
            ["svnlook", *args],
            capture_output=True,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RepositoryError(f"svnlook failed: {exc}") from exc
    if answer.returncode != 0:
        raise RepositoryError(
            f"svnlook {args[0]} failed: {answer.stderr.decode('utf-8', 'replace').strip()[:200]}"
        )
    return answer.stdout.decode("utf-8", errors="replace").strip()


def read_svn_history(
    repository: Path, revisions: Sequence[str], url_template: str
) -> Iterator[HistoryCommit]:
    """Read each revision's author and log, in order (revisions svnlook lacks are left out)."""

    for revision in revisions:
        commit = svn_reader.read_revision(repository, revision, url_template)
        if commit is None:
            continue
        yield HistoryCommit(
            commit_id=revision,
            text=CommitText(author=commit.author, message=commit.message),
            url=commit.url,
            branch="",
        )


def plan_history(
    commits: Iterator[HistoryCommit],
    *,
    repository: str,
    routing: Routing,
    accounted: set[str],
    progress: Callable[[int], None] = lambda n: None,
) -> Tally:
    """Route each commit as a push of ``repository`` would be; leave out what the hook
    accounted for. ``progress`` is told of each commit read."""
    tally = Tally()
    for commit in commits:
        tally.read += 1
        progress(1)
        if commit.commit_id in accounted:
            tally.accounted += 1
            continue
        pushed = PushedCommit(
            id=commit.commit_id,
            message=commit.text.message,
            author_name=commit.text.author,
            author_email="",
            url=commit.url,
            timestamp="",
            branch=commit.branch,
        )
        push = Push(
            forge="backfill",
            repository=repository,
            ref=f"refs/heads/{commit.branch}",
            branch=commit.branch,
            commits=(pushed,),
        )
        plan = plan_push(push, routing)
        tally.skipped += plan.skipped_total
        tally.deliveries.extend(plan.deliveries)
    return tally


def without_branch_filter(routing: Routing) -> Routing:
    """``routing`` with no branch globs (Subversion has no branches to filter)."""
    return replace(
        routing,
        default=replace(routing.default, branches=()),
        repositories={
            name: replace(route, branches=()) for name, route in routing.repositories.items()
        },
    )
