"""``hookrelay hooks install|uninstall`` and ``hookrelay hook …`` (what an installed hook runs).

``hooks install`` exits 0 when the hook is in place, 2 for a bad argument (a URL that names no
API version, an empty token), 1 when REPO is not a repository of the named kind (one line on
stderr saying so). ``hook …`` always exits with the status of the hook it chains (0 when there is
none): relaying problems are reported on stderr and in the repository's ``hookrelay.log``, and
never fail a push or a commit.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from hookrelay.core.text import one_line
from hookrelay.exceptions import InputError

__all__ = ["register"]

_TOKEN_ENV = "HOOKRELAY_TRACKER_TOKEN"  # noqa: S105 - the variable's name, not a token
_FROM_STDIN = "-"


def register(commands: Any) -> None:
    """Add ``hooks`` (install, uninstall) and ``hook`` (run) to the command line."""
    _register_hooks(commands)
    _register_hook(commands)


def _register_hooks(commands: Any) -> None:
    parser = commands.add_parser(
        "hooks",
        help="install or remove the hook of a git or Subversion repository",
        description="Install or remove the hook that relays a repository's commits to Tracker.",
    )
    actions = parser.add_subparsers(dest="hooks_action", required=True, metavar="ACTION")
    install = actions.add_parser(
        "install",
        help="install the hook (keeps and chains a hook already there; idempotent)",
        description=(
            "Install the hook into REPO: post-receive in a bare git repository, post-commit in "
            "a git working copy (or --hook), post-commit in a Subversion repository. A hook "
            "already there keeps running first, as HOOK.before-hookrelay. Settings go to "
            "`git config hookrelay.*` (the token to the 0600 file hookrelay/token of the git "
            "folder) or REPO/conf/hookrelay.conf; options left out keep "
            "their current value. Exit status: 0 done, 2 bad argument, 1 REPO is not a "
            "repository of that kind."
        ),
    )
    install.add_argument("kind", choices=("git", "svn"), help="the kind of repository")
    install.add_argument("repo", type=Path, metavar="REPO", help="the repository's folder")
    install.add_argument(
        "--url", help="Tracker base URL, ending in /services/v3 (XML) or /services/v5 (JSON)"
    )
    install.add_argument(
        "--token",
        help=f"Tracker API token; '-' reads it from stdin (default: ${_TOKEN_ENV})",
    )
    install.add_argument(
        "--standalone",
        action="store_true",
        help="install the POSIX sh hook that needs only git/svnlook and curl, not Python",
    )
    install.add_argument(
        "--commit-url", metavar="TEMPLATE", help="the url field; %%H becomes the commit id"
    )
    install.add_argument(
        "--branches", metavar="GLOBS", help="git: only these branches (space or comma separated)"
    )
    install.add_argument(
        "--all-commits",
        action=argparse.BooleanOptionalAction,
        help="also send commits that name no story (Tracker ignores them); default: no",
    )
    install.add_argument(
        "--foreground-seconds",
        type=int,
        metavar="N",
        help="how long the hook may hold a push before sending the rest in the background "
        "(default 4)",
    )
    install.add_argument(
        "--hook", choices=("post-receive", "post-commit"), help="git: which hook to install"
    )
    install.set_defaults(handler=run_install)
    uninstall = actions.add_parser(
        "uninstall",
        help="remove the hook and its settings, putting a chained hook back",
        description=(
            "Remove hookrelay's hook from REPO, put back the hook it chained, and remove "
            "its settings. The spool and log (REPO's hookrelay/ folder) are left for you."
        ),
    )
    uninstall.add_argument("kind", choices=("git", "svn"), help="the kind of repository")
    uninstall.add_argument("repo", type=Path, metavar="REPO", help="the repository's folder")
    uninstall.set_defaults(handler=run_uninstall)


def _register_hook(commands: Any) -> None:
    parser = commands.add_parser(
        "hook",
        help="what an installed hook runs (never fails the push or commit)",
        description=(
            "Relay the commits of a push (git-post-receive), of a commit (git-post-commit) or "
            "of a Subversion revision (svn-post-commit). Installed hooks run this; --resend "
            "sends only what the repository's spool holds."
        ),
    )
    jobs = parser.add_subparsers(dest="job", required=True, metavar="JOB")
    for job in ("git-post-receive", "git-post-commit"):
        git_job = jobs.add_parser(job, help=f"the git {job.removeprefix('git-')} hook")
        _hook_options(git_job)
        git_job.add_argument("args", nargs="*", help="passed on to the chained hook")
    svn_job = jobs.add_parser("svn-post-commit", help="the Subversion post-commit hook")
    _hook_options(svn_job)
    svn_job.add_argument("repository", metavar="REPOS")
    svn_job.add_argument("revision", nargs="?", metavar="REV")
    svn_job.add_argument("args", nargs="*", metavar="TXN", help="passed on to the chained hook")
    parser.set_defaults(handler=run_hook)


def _hook_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hook-path", help="the installed hook's path (to find the hook it chains)"
    )
    parser.add_argument("--resend", action="store_true", help="only send what is spooled")


def _settings(args: argparse.Namespace) -> dict[str, str]:
    values: dict[str, str] = {}
    if args.url is None:
        raise InputError("--url is required (a Tracker base URL ending in /services/v3 or /v5)")
    values["url"] = args.url.strip()
    token = args.token if args.token is not None else os.environ.get(_TOKEN_ENV)
    if token == _FROM_STDIN:
        token = sys.stdin.readline()
    if not token or not token.strip():
        raise InputError(f"--token is required (or set ${_TOKEN_ENV})")
    values["token"] = token.strip()
    if args.commit_url is not None:
        values["commiturl"] = args.commit_url
    if args.branches is not None:
        if args.kind != "git":
            raise InputError("--branches applies to git repositories only")
        values["branches"] = args.branches
    if args.all_commits is not None:
        values["allcommits"] = "true" if args.all_commits else "false"
    if args.foreground_seconds is not None:
        if args.foreground_seconds < 0:
            raise InputError("--foreground-seconds must be 0 or more")
        values["foregroundseconds"] = str(args.foreground_seconds)
    return values


def run_install(args: argparse.Namespace) -> int:
    """Install the hook and say where, in one line."""
    from hookrelay.hooks.installer import HookForm, install_git, install_svn

    values = _settings(args)
    form = HookForm.STANDALONE if args.standalone else HookForm.PYTHON
    if args.kind == "git":
        installed = install_git(args.repo, values, form=form, hook=args.hook)
    else:
        if args.hook is not None:
            raise InputError("--hook applies to git repositories only")
        installed = install_svn(args.repo, values, form=form)
    chained = f"; runs {installed.chained.name} first" if installed.chained else ""
    print(
        f"hookrelay: installed {installed.hook} ({installed.form.value}{chained}); "
        f"settings in {installed.settings_in}"
    )
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    """Remove the hook and say what was removed."""
    from hookrelay.hooks.installer import uninstall_git, uninstall_svn

    removed = uninstall_git(args.repo) if args.kind == "git" else uninstall_svn(args.repo)
    if removed:
        print("hookrelay: removed " + ", ".join(str(path) for path in removed))
    else:
        print(f"hookrelay: no hookrelay hook in {args.repo}; settings removed")
    return 0


def run_hook(args: argparse.Namespace) -> int:
    """Run the chained hook, then relay; exit with the chained hook's status, whatever happens."""
    from hookrelay.hooks.run import run_chained

    started = time.monotonic()
    stdin: bytes | None = None
    if args.job == "git-post-receive" and not args.resend:
        stdin = sys.stdin.buffer.read()
    status = 0
    if not args.resend:
        chained_args = list(args.args)
        if args.job == "svn-post-commit":
            chained_args = [args.repository, *([args.revision] if args.revision else [])]
            chained_args += list(args.args)
        try:
            status = run_chained(args.hook_path, chained_args, stdin)
        except OSError as exc:
            print(f"hookrelay: could not run the chained hook: {exc}", file=sys.stderr)
            status = 126
    try:
        summary = _relay(args, stdin or b"", started)
    except Exception as exc:  # noqa: BLE001 - a hook must never fail the push it serves
        summary = f"hookrelay: nothing sent: {type(exc).__name__}: {one_line(str(exc), 300)}"
    if summary:
        print(summary, file=sys.stderr)
    return status


def _relay(args: argparse.Namespace, stdin: bytes, started: float) -> str:
    """Relay with the repository's system: GitPython is imported for git jobs only."""
    from hookrelay.hooks.run import run_hook

    if args.job == "svn-post-commit":
        from hookrelay.hooks.svn_reader import SvnSystem

        return run_hook(
            SvnSystem(Path(args.repository), args.revision), resend=args.resend, started=started
        )
    from hookrelay.hooks.git_reader import GitSystem

    system = GitSystem(args.job.removeprefix("git-"), stdin)
    try:
        return run_hook(system, resend=args.resend, started=started)
    finally:
        system.close()
