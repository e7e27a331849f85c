"""Putting a hook into a git or Subversion repository, and taking it out again.

``install`` finds the hooks folder (bare or not; git's ``core.hooksPath`` honoured), writes the
settings (``git config hookrelay.*`` with the token in the 0600 file ``$GIT_DIR/hookrelay/token``,
0640 in a repository shared with a group, never in the 0644 ``config``; or the 0600
``conf/hookrelay.conf`` for svn) and the hook: the
standalone shell script from ``hooks/``, or a three-line ``sh`` stub that runs
``python -m hookrelay hook …`` with this interpreter. A hook already there that hookrelay did
not write is kept as ``<hook>.before-hookrelay`` and run first by ours, with the same arguments
and standard input. Installing again replaces only hookrelay's own file, so it is idempotent.
Every file hookrelay writes carries a ``# hookrelay-form:`` line; that is how it knows its own.
"""

from __future__ import annotations

import enum
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import git

from hookrelay.core.tracker_api import TrackerTarget
from hookrelay.exceptions import ConfigError, InputError, RepositoryError
from hookrelay.hooks import git_reader, svn_reader
from hookrelay.hooks.run import CHAINED_SUFFIX
from hookrelay.hooks.settings import KEYS, check_token, parse_conf, render_conf

__all__ = [
    "FORM_MARKER",
    "HookForm",
    "Installed",
    "install_git",
    "install_svn",
    "script_path",
    "uninstall_git",
    "uninstall_svn",
]

FORM_MARKER = "# hookrelay-form:"
GIT_HOOKS = ("post-receive", "post-commit")


class HookForm(enum.Enum):
    """Which implementation an installed hook runs."""

    PYTHON = "python"
    STANDALONE = "standalone"


@dataclass(frozen=True, slots=True)
class Installed:
    """What ``install`` did, for the one-line report."""

    hook: Path
    form: HookForm
    chained: Path | None
    settings_in: str


def script_path(kind: str, name: str) -> Path:
    """The standalone shell hook ``hooks/<kind>/<name>``: shipped in the wheel as
    ``hookrelay/hooks/scripts``, or the repository's top-level ``hooks/`` in a source checkout."""
    for root in (Path(__file__).parent / "scripts", Path(__file__).parents[2] / "hooks"):
        candidate = root / kind / name
        if candidate.is_file():
            return candidate
    raise ConfigError(f"the standalone {kind} {name} hook is missing from this installation")


def check_settings(values: Mapping[str, str]) -> None:
    """Refuse a URL that names no API version and a token a header cannot carry."""
    if "url" in values:
        try:
            TrackerTarget.parse(values["url"])
        except ConfigError as exc:
            raise InputError(str(exc)) from exc
    if "token" in values:
        try:
            check_token(values["token"])
        except ConfigError as exc:
            raise InputError(str(exc)) from exc
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            raise InputError(f"{key} must be one line")


def _python_stub(job: str) -> bytes:
    python = shlex.quote(sys.executable)
    return (
        "#!/bin/sh\n"
        f"# hookrelay hook, Python form: runs `hookrelay hook {job}` with the Python that\n"
        "# installed it. `hookrelay hooks uninstall` takes it out again.\n"
        f"{FORM_MARKER} {HookForm.PYTHON.value}\n"
        "PATH=${PATH:-/usr/local/bin:/usr/bin:/bin}\n"
        "export PATH\n"
        f"hookrelay_python={python}\n"
        'if [ -x "$hookrelay_python" ]; then\n'
        # -I (isolated): the working tree is not on sys.path, so a repository's own
        # hookrelay/ or logging.py can never run in place of hookrelay's.
        f'    exec "$hookrelay_python" -I -m hookrelay hook {job} --hook-path "$0" "$@"\n'
        "fi\n"
        'echo "hookrelay: $hookrelay_python is missing; nothing relayed" >&2\n'
        f'if [ -x "$0{CHAINED_SUFFIX}" ]; then\n'
        f'    exec "$0{CHAINED_SUFFIX}" "$@"\n'
        "fi\n"
        "exit 0\n"
    ).encode()


def is_ours(path: Path) -> bool:
    """Whether ``path`` is a hook hookrelay wrote."""
    try:
        with path.open("rb") as hook:
            head = hook.read(4096)
    except OSError:
        return False
    return FORM_MARKER.encode() in head


def _place_hook(path: Path, content: bytes) -> Path | None:
    """Write ``content`` as the executable hook ``path``, keeping a foreign hook as chained."""
    chained = path.with_name(path.name + CHAINED_SUFFIX)
    if (path.exists() or path.is_symlink()) and not is_ours(path):
        if chained.exists() or chained.is_symlink():
            raise RepositoryError(
                f"{path} and {chained.name} both exist; move one aside and install again"
            )
        path.rename(chained)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(path.name + ".hookrelay-new")
    staged.write_bytes(content)
    staged.chmod(0o755)
    staged.replace(path)  # atomic: git never sees a half-written hook
    return chained if chained.exists() or chained.is_symlink() else None


def _remove_hook(path: Path) -> bool:
    """Take hookrelay's hook out, putting the chained one back; False when it was not ours."""
    if not is_ours(path):
        return False
    path.unlink()
    chained = path.with_name(path.name + CHAINED_SUFFIX)
    if chained.exists() or chained.is_symlink():
        chained.rename(path)
    return True


def _hooks_folder(repo: git.Repo) -> Path:
    # `--git-path hooks` applies core.hooksPath, relative to where git runs (GitPython runs
    # it in the working tree, or the git folder of a bare repository).
    relative = str(repo.git.rev_parse("--git-path", "hooks"))
    return (Path(repo.working_dir) / relative).resolve()


def _open_git(path: Path) -> git.Repo:
    if not path.is_dir():
        raise RepositoryError(f"{path} is not a git repository (no such folder)")
    return git_reader.open_repository(path)


def install_git(
    path: Path,
    settings: Mapping[str, str],
    *,
    form: HookForm = HookForm.PYTHON,
    hook: str | None = None,
) -> Installed:
    """Install the git hook (post-receive in a bare repository, else post-commit)."""
    check_settings(settings)
    with _open_git(path) as repo:
        name = hook or ("post-receive" if repo.bare else "post-commit")
        if name not in GIT_HOOKS:
            raise InputError(f"--hook must be one of {', '.join(GIT_HOOKS)}")
        for key, value in settings.items():
            if key != "token":
                # git itself writes the value, quoting what its config syntax needs (# ; " \\).
                repo.git.config("--replace-all", f"hookrelay.{key}", value)
        settings_in = f"git config hookrelay.* in {repo.common_dir}"
        if "token" in settings:
            token_file = _write_git_token(repo, settings["token"])
            settings_in += f", token in {token_file}"
        if form is HookForm.STANDALONE:
            content = script_path("git", name).read_bytes()
        else:
            content = _python_stub(f"git-{name}")
        target = _hooks_folder(repo) / name
        chained = _place_hook(target, content)
        return Installed(target, form, chained, settings_in)


def _write_git_token(repo: git.Repo, token: str) -> Path:
    """Write the token file and take the token out of the repository's config, where an
    install before the token file put it."""
    state = git_reader.state_folder(repo)
    made = not state.exists()
    shared = git_reader.is_shared_value(
        git_reader.read_config(repo).get("core.sharedrepository", "")
    )
    path = git_reader.write_token(state, token, shared=shared)
    repo.git.config("--unset-all", "hookrelay.token", with_exceptions=False)
    if made:
        _give_to_owner_of(state, Path(repo.common_dir))
    _give_to_owner_of(path, Path(repo.common_dir))
    return path


def uninstall_git(path: Path) -> list[Path]:
    """Remove hookrelay's git hooks and settings; return the hooks removed."""
    with _open_git(path) as repo:
        folder = _hooks_folder(repo)
        removed = [folder / name for name in GIT_HOOKS if _remove_hook(folder / name)]
        repo.git.config("--remove-section", "hookrelay", with_exceptions=False)
        (git_reader.state_folder(repo) / git_reader.TOKEN_FILE).unlink(missing_ok=True)
        return removed


def install_svn(
    path: Path, settings: Mapping[str, str], *, form: HookForm = HookForm.PYTHON
) -> Installed:
    """Install the svn post-commit hook and ``conf/hookrelay.conf`` (0600: it holds the token)."""
    check_settings(settings)
    repository = path.resolve()
    svn_reader.check_repository(repository)
    conf = repository / "conf" / svn_reader.CONF_NAME
    try:
        values = parse_conf(conf.read_text(encoding="utf-8"))
    except FileNotFoundError:
        values = {}
    values.update(settings)
    staged = conf.with_name(conf.name + ".hookrelay-new")
    staged.touch(mode=0o600)
    staged.chmod(0o600)
    staged.write_text(render_conf({k: v for k, v in values.items() if k in KEYS}))
    _give_to_owner_of(staged, repository / "db")
    staged.replace(conf)
    if form is HookForm.STANDALONE:
        content = script_path("svn", "post-commit").read_bytes()
    else:
        content = _python_stub("svn-post-commit")
    target = repository / "hooks" / "post-commit"
    chained = _place_hook(target, content)
    return Installed(target, form, chained, str(conf))


def uninstall_svn(path: Path) -> list[Path]:
    """Remove hookrelay's svn hook and ``conf/hookrelay.conf``; return the hooks removed."""
    repository = path.resolve()
    svn_reader.check_repository(repository)
    hook = repository / "hooks" / "post-commit"
    removed = [hook] if _remove_hook(hook) else []
    (repository / "conf" / svn_reader.CONF_NAME).unlink(missing_ok=True)
    return removed


def _give_to_owner_of(path: Path, reference: Path) -> None:
    # Run as root (a common way to set up a server), the file must still be readable by the
    # account the server runs hooks as, which owns the repository's db/ (svn) or git folder.
    if os.geteuid() == 0:
        owner = reference.stat()
        os.chown(path, owner.st_uid, owner.st_gid)
