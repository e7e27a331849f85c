"""Reading a Subversion repository for the hooks, with ``svnlook``.

``svnlook`` writes text in the locale's encoding and escapes what it cannot write (``?\\228``),
so it runs under ``C.UTF-8``: Subversion stores log messages and author names as UTF-8, and
that is what Tracker should receive.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hookrelay.core.source_commit import SourceCommit
from hookrelay.exceptions import RepositoryError
from hookrelay.hooks.commit_text import read_svn_revision, source_commit
from hookrelay.hooks.settings import HookSettings, parse_conf

__all__ = [
    "CONF_NAME",
    "SvnSystem",
    "check_repository",
    "read_revision",
    "read_settings",
    "state_folder",
]

CONF_NAME = "hookrelay.conf"
_TIMEOUT = 60
_NO_SUCH_REVISION = "E160006"  # svn_error_codes.h: SVN_ERR_FS_NO_SUCH_REVISION


class SvnSystem:
    """A Subversion repository as the hook driver sees it (``hookrelay.hooks.run.HookSystem``):
    post-commit of ``revision`` (``None`` when only resending)."""

    shared = False
    job = "post-commit"

    def __init__(self, repository: Path, revision: str | None) -> None:
        self.repository = repository.resolve()
        self._revision = revision
        self.state = state_folder(self.repository)
        self.respawn = ["hook", "svn-post-commit", "--resend", str(self.repository)]

    def read_settings(self) -> HookSettings:
        """The settings in ``conf/hookrelay.conf`` (ConfigError when missing or bad)."""
        return read_settings(self.repository)

    def new_commits(self, settings: HookSettings) -> list[str]:
        """The revision just committed."""
        return [self._revision] if self._revision is not None else []

    def read(self, commit_id: str, settings: HookSettings) -> SourceCommit | None:
        """The ``source_commit`` for one revision, or ``None`` when the repository lacks it."""
        return read_revision(self.repository, commit_id, settings.commit_url)


def _svnlook(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    try:
        return subprocess.run(
            ["svnlook", *args], capture_output=True, env=env, timeout=_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RepositoryError(f"svnlook failed: {exc}") from exc


def check_repository(repository: Path) -> None:
    """Raise ``RepositoryError`` unless ``repository`` is a Subversion repository."""
    if not (repository / "format").is_file() or not (repository / "db").is_dir():
        raise RepositoryError(f"{repository} is not a Subversion repository")
    answer = _svnlook("uuid", str(repository))
    if answer.returncode != 0:
        reason = answer.stderr.decode("utf-8", errors="replace").strip().splitlines()
        detail = reason[-1] if reason else f"exit {answer.returncode}"
        raise RepositoryError(f"{repository} is not a Subversion repository ({detail})")


def state_folder(repository: Path) -> Path:
    """Where hookrelay keeps its spool and log: ``hookrelay`` in the repository folder."""
    return repository / "hookrelay"


def read_settings(repository: Path) -> HookSettings:
    """The settings in ``conf/hookrelay.conf`` (ConfigError when missing or bad)."""
    try:
        text = (repository / "conf" / CONF_NAME).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    return HookSettings.from_values(parse_conf(text))


def read_revision(repository: Path, revision: str, url_template: str) -> SourceCommit | None:
    """The ``source_commit`` for one revision, or ``None`` when the repository lacks it."""
    author = _svnlook("author", "-r", revision, str(repository))
    log = _svnlook("log", "-r", revision, str(repository))
    for answer in (author, log):
        if answer.returncode != 0:
            reason = answer.stderr.decode("utf-8", errors="replace").strip()
            if _NO_SUCH_REVISION in reason:
                return None
            raise RepositoryError(f"svnlook failed on r{revision}: {reason[:200]}")
    return source_commit(revision, read_svn_revision(author.stdout, log.stdout), url_template)
