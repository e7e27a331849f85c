"""The ``hookrelay`` command: one sub-command a module, each registering its own parser.

Exit codes scripts can trust: 0 success, 1 the work failed (Tracker, store, repository),
2 a usage error or bad input value, 78 a bad setting (``EX_CONFIG`` from sysexits.h).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hookrelay import __version__
from hookrelay.cli import backfill, deliveries, doctor, emulate, hooks, parse, serve
from hookrelay.exceptions import ConfigError, HookrelayError, InputError

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "EXIT_USAGE", "build_parser", "main"]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 78


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, as ``hookrelay --help`` shows it."""
    parser = argparse.ArgumentParser(
        prog="hookrelay",
        description="Relay commits from git, Subversion and forge webhooks to Pivotal Tracker.",
    )
    parser.add_argument("--version", action="version", version=f"hookrelay {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (serve, parse, hooks, deliveries, emulate, backfill, doctor):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (errors are one line on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        print(f"hookrelay: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except InputError as exc:
        print(f"hookrelay: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except HookrelayError as exc:
        print(f"hookrelay: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    return code
