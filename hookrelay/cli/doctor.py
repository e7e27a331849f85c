"""``hookrelay doctor [--config FILE] [REPO…]``: say, one line a check, whether a setup works.

Each line starts with ✓ or ✗; a ✗ line ends with the fix. The checks are ``hookrelay.doctor``'s:
settings, queue, each Tracker target and token (``GET /me``; tokens as fingerprints), webhook
secret beyond loopback, admin token, dead letters, and each REPO's hook. Exit status: 0 when
every check passes, 1 when any fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add ``doctor`` to the command line."""
    parser = commands.add_parser(
        "doctor",
        help="check the settings, queue, Tracker, tokens and hooks, one line a check",
        description=(
            "Check that a setup works: settings, queue, each Tracker target and token, webhook "
            "secret, admin token, dead letters, and the hook of each REPO given. "
            "Exit status: 0 every check passes, 1 some check fails."
        ),
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="the TOML settings file")
    parser.add_argument(
        "repositories", type=Path, nargs="*", metavar="REPO", help="a repository to check"
    )
    parser.set_defaults(handler=run_doctor)


def _marks() -> tuple[str, str]:
    encoding = (getattr(sys.stdout, "encoding", None) or "ascii").lower()
    return ("✓", "✗") if "utf" in encoding else ("ok", "FAIL")


def run_doctor(args: argparse.Namespace) -> int:
    """Run every check, print a line each, exit 1 if any failed."""
    from hookrelay.doctor import check_settings_file, run_checks

    passed, failed = _marks()
    first, settings = check_settings_file(args.config)
    checks = [first]
    checks_iter = run_checks(settings, args.repositories) if settings is not None else iter(())
    ok = True
    for check in [*checks, *checks_iter]:
        if check.ok:
            print(f"{passed} {check.what}", flush=True)
        else:
            ok = False
            print(f"{failed} {check.what} — fix: {check.fix}", flush=True)
    return 0 if ok else 1
