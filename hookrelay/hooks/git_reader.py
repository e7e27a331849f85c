"""Reading a git repository for the hooks, with GitPython: which commits are new, and their text.

*New to the repository* (post-receive) means reachable from a branch this push updated and
from no tip the hook has already accounted for, i.e. ``git rev-list NEW... --not OLD...
ACCOUNTED...`` where OLD are the updated refs' previous values and ACCOUNTED the record kept
in ``<state>/accounted`` (see ``hookrelay.hooks.accounted``): the tips earlier pushes brought,
seeded on the first run from the refs the push left alone. Not the refs as they stand: two
pushes landing at once would each see the other's ref moved and neither send a shared commit,
and a branch deleted and pushed again would be sent again.
So a new branch of old commits sends nothing, a deletion sends nothing, a forced push sends
only the rewritten commits, and a commit pushed to several branches at once is listed once.
Tags are never a source of commits. With a branch filter, only the filtered branches count on
both sides: a commit first pushed to an unrelayed branch is sent when it reaches a relayed one.
Ref names are compared as bytes (``surrogateescape``): a branch name need not be UTF-8.

Settings are read with one ``git config -z --get-regexp`` (``hookrelay.*`` and
``core.sharedRepository``); the token from the state folder's ``token`` file (``TOKEN_FILE``,
0600, or 0640 in a repository shared with a group, whose members' pushes run the hook), and
from ``hookrelay.token`` only where an install older than that file left it.
This module is where the hooks import GitPython, and only to read a repository.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import git

from hookrelay.core.source_commit import SourceCommit
from hookrelay.exceptions import RepositoryError
from hookrelay.hooks import accounted
from hookrelay.hooks.commit_text import read_git_commit, source_commit
from hookrelay.hooks.settings import KEYS, HookSettings

__all__ = [
    "TOKEN_FILE",
    "GitSystem",
    "RefUpdate",
    "head_commit",
    "is_shared_value",
    "new_commits",
    "open_repository",
    "read_commit",
    "read_config",
    "read_ref_updates",
    "read_settings",
    "read_token",
    "state_folder",
    "write_token",
]

TOKEN_FILE = "token"  # noqa: S105 - the file's name, not a token
_UPDATE = re.compile(r"^([0-9a-f]+) ([0-9a-f]+) (\S+)$")
_CONFIG_KEYS = r"^(hookrelay\.|core\.sharedrepository$)"


class GitSystem:
    """A git repository as the hook driver sees it (``hookrelay.hooks.run.HookSystem``):
    ``job`` is post-receive (``stdin`` holds the ref updates) or post-commit."""

    def __init__(self, job: str, stdin: bytes = b"", path: str | Path | None = None) -> None:
        self.repo = open_repository(path)
        self.job = job
        self._stdin = stdin
        self.state = state_folder(self.repo)
        self._config = read_config(self.repo)
        self.shared = is_shared_value(self._config.get("core.sharedrepository", ""))
        self.respawn = ["hook", f"git-{job}", "--resend"]

    def close(self) -> None:
        """Stop the git processes GitPython keeps for reading objects."""
        self.repo.close()

    def read_settings(self) -> HookSettings:
        """The ``hookrelay.*`` settings and the token file (ConfigError when missing or bad)."""
        return read_settings(self._config, self.state)

    def new_commits(self, settings: HookSettings) -> list[str]:
        """post-receive: the commits the push made new; post-commit: HEAD, if relayed."""
        if self.job == "post-receive":
            updates = read_ref_updates(self._stdin)
            return new_commits(self.repo, updates, settings, self.state)
        return head_commit(self.repo, settings)

    def read(self, commit_id: str, settings: HookSettings) -> SourceCommit | None:
        """The ``source_commit`` for one commit, or ``None`` when the repository lacks it."""
        return read_commit(self.repo, commit_id, settings.commit_url)


@dataclass(frozen=True, slots=True)
class RefUpdate:
    """One line of post-receive's standard input: a ref moved from ``old`` to ``new``."""

    old: str
    new: str
    ref: str

    @property
    def created(self) -> bool:
        """The ref did not exist before the push."""
        return not self.old.strip("0")

    @property
    def deleted(self) -> bool:
        """The push deleted the ref."""
        return not self.new.strip("0")


def read_ref_updates(stdin: bytes) -> list[RefUpdate]:
    """Read post-receive's ``<old> <new> <ref>`` lines; anything else is ignored."""
    updates = []
    # surrogateescape: a ref name that is not UTF-8 keeps its bytes, as in the ref listing.
    for line in stdin.decode("utf-8", errors="surrogateescape").splitlines():
        match = _UPDATE.match(line.strip())
        if match is not None:
            updates.append(RefUpdate(*match.groups()))
    return updates


def open_repository(path: str | Path | None = None) -> git.Repo:
    """Open the repository a hook runs in (``GIT_DIR`` or the current folder), or ``path``."""
    try:
        if path is None:
            return git.Repo(search_parent_directories=True)
        return git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        where = path if path is not None else "the current folder"
        raise RepositoryError(f"{where} is not a git repository") from exc


def state_folder(repo: git.Repo) -> Path:
    """Where hookrelay keeps its spool and log: ``hookrelay`` in the common git folder."""
    return Path(repo.common_dir) / "hookrelay"


def is_shared_value(value: str) -> bool:
    """``core.sharedRepository``'s value (as ``git config --get`` prints it) read as sharing."""
    text = value.strip()
    lowered = text.lower()
    if lowered in ("", "umask", "false", "no", "off"):
        return False
    if lowered in ("group", "true", "yes", "on", "all", "world", "everybody"):
        return True
    try:
        mode = int(text, 8)
    except ValueError:
        return False
    return mode in (1, 2) or bool(mode & 0o070)


def read_config(repo: git.Repo) -> dict[str, str]:
    """``hookrelay.*`` and ``core.sharedRepository`` from ``git config``, in one process; keys
    as git prints them (lower case), the last value of a key winning, as ``--get`` has it."""
    try:
        listing = _git_bytes(repo, "config", "-z", "--get-regexp", _CONFIG_KEYS)
    except RepositoryError:
        return {}  # exit 1: nothing set
    values = {}
    for item in listing.decode("utf-8", errors="replace").split("\0"):
        if item:
            key, newline, value = item.partition("\n")
            values[key.lower()] = value if newline else "true"  # a bare key is a true boolean
    return values


def read_token(state: Path) -> str | None:
    """The token in ``<state>/token``; ``None`` when there is no such file."""
    try:
        return (state / TOKEN_FILE).read_text(encoding="utf-8", errors="replace").strip()
    except FileNotFoundError:
        return None


def write_token(state: Path, token: str, *, shared: bool) -> Path:
    """Write ``<state>/token`` atomically: 0600, or 0640 in a repository shared with a group."""
    mode = 0o640 if shared else 0o600
    state.mkdir(mode=0o2770 if shared else 0o700, parents=True, exist_ok=True)
    staged = state / f"{TOKEN_FILE}.{os.getpid()}"
    staged.unlink(missing_ok=True)
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(f"{token}\n")
    staged.chmod(mode)
    staged.replace(state / TOKEN_FILE)
    return state / TOKEN_FILE


def read_settings(config: dict[str, str], state: Path) -> HookSettings:
    """The hook's settings from ``read_config``'s values and the token file."""
    values = {key: config.get(f"hookrelay.{key}", "") for key in KEYS}
    token = read_token(state)
    if token is not None:
        values["token"] = token
    return HookSettings.from_values(values)


def new_commits(
    repo: git.Repo, updates: list[RefUpdate], settings: HookSettings, state: Path
) -> list[str]:
    """The commits this push made new to the repository, parents before children; the push's
    tips are then added to the record of accounted tips in ``state``."""
    wanted = [update for update in updates if settings.wants_ref(update.ref)]
    include = [
        update.new
        for update in wanted
        if update.ref.startswith("refs/heads/") and not update.deleted
    ]
    olds = [update.old for update in wanted if not update.created]
    with accounted.locked(state):
        current = _ref_tips(repo)
        record = accounted.read_record(state)
        if record is None:
            # First run: the refs as they stand, except the ones this push moved (their old
            # values stand for them), are what the repository had before.
            updated = {update.ref for update in updates}
            record = [tip for tip, ref in current if ref not in updated and settings.wants_ref(ref)]
        listed: list[str] = []
        if include:
            exclude = _existing(repo, [*record, *olds])
            listed = _rev_list(repo, include, exclude)
        accounted.write_record(state, [*record, *olds, *include], {tip for tip, _ in current})
    return listed


def _git_bytes(repo: git.Repo, *args: str, stdin: bytes = b"") -> bytes:
    common = str(Path(repo.common_dir).resolve())
    result = subprocess.run(
        ["git", *args],
        cwd=common,
        env={**os.environ, "GIT_DIR": common},
        input=stdin,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", errors="replace").strip()
        raise RepositoryError(f"git {args[0]} failed: {stderr}")
    return result.stdout


def _ref_tips(repo: git.Repo) -> list[tuple[str, str]]:
    """Every ref as ``(object name, ref name)``, names decoded with ``surrogateescape``."""
    listing = _git_bytes(repo, "for-each-ref", "--format=%(objectname) %(refname)")
    tips = []
    for line in listing.decode("utf-8", errors="surrogateescape").splitlines():
        objectname, _, ref = line.partition(" ")
        tips.append((objectname, ref))
    return tips


def _existing(repo: git.Repo, names: list[str]) -> list[str]:
    """The ``names`` the repository still has (a deleted branch's commits may be gone)."""
    if not names:
        return []
    stdin = "".join(f"{name}\n" for name in names).encode("ascii")
    checked = _git_bytes(repo, "cat-file", "--batch-check=%(objectname) %(objecttype)", stdin=stdin)
    present = []
    for line in checked.decode("ascii", errors="replace").splitlines():
        name, _, kind = line.partition(" ")
        if kind != "missing":
            present.append(name)
    return present


def _rev_list(repo: git.Repo, include: list[str], exclude: list[str]) -> list[str]:
    revisions = "".join(f"{name}\n" for name in include) + "".join(f"^{n}\n" for n in exclude)
    # Through stdin: a repository can have more refs than a command line can hold.
    with tempfile.TemporaryFile() as stdin:
        stdin.write(revisions.encode("ascii"))
        stdin.seek(0)
        try:
            listed = repo.git.rev_list("--reverse", "--topo-order", "--stdin", istream=stdin)
        except git.GitCommandError as exc:
            raise RepositoryError(f"git rev-list failed: {exc.stderr.strip()}") from exc
    return str(listed).split()


def head_commit(repo: git.Repo, settings: HookSettings) -> list[str]:
    """The commit post-commit just made, if its branch is relayed (none on a detached HEAD
    when a branch filter is set)."""
    try:
        commit = repo.head.commit.hexsha
    except ValueError:
        return []  # an unborn branch
    ref = "HEAD" if repo.head.is_detached else repo.head.ref.path
    return [commit] if settings.wants_ref(ref) else []


def read_commit(repo: git.Repo, commit_id: str, url_template: str) -> SourceCommit | None:
    """The ``source_commit`` for one commit, or ``None`` when the repository lacks it."""
    try:
        stream = repo.odb.stream(bytes.fromhex(commit_id))
    except ValueError:
        return None
    if stream.type != b"commit":
        return None
    return source_commit(commit_id, read_git_commit(stream.read()), url_template)
