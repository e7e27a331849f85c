"""The ``hookrelay`` command: one sub-command a module, each registering its own parser.

Exit codes scripts can trust: 0 success, 1 the work failed (Tracker, store, repository),
2 a usage error or bad input value, 78 a bad setting (``EX_CONFIG`` from sysexits.h).

A command module only declares its arguments; what a command needs (the web stack, a database
driver, GitPython) is imported by its handler when it runs, so ``parse`` or ``--version`` start
as fast as Python does and every command but those that read a git repository works where git
is not installed (the Docker image). Those say so in one line (``tests/cli/test_startup.py``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from hookrelay import __version__
from hookrelay.exceptions import ConfigError, HookrelayError, InputError

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "EXIT_USAGE", "build_parser", "main"]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 78


# The module (hookrelay.cli.NAME) that declares each command. A command not listed here is still
# found: the whole command line is then built, which only costs the time to import every module.
_MODULES = ("serve", "parse", "hooks", "deliveries", "emulate", "backfill", "doctor")
_MODULE_OF = {
    "serve": "serve",
    "worker": "serve",
    "parse": "parse",
    "hooks": "hooks",
    "hook": "hooks",
    "deliveries": "deliveries",
    "emulate": "emulate",
    "backfill": "backfill",
    "doctor": "doctor",
}


def _command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, as ``hookrelay --help`` shows it; or, given a ``command``, only
    the part that declares it (a git hook need not import what ``deliveries`` does)."""
    parser = argparse.ArgumentParser(
        prog="hookrelay",
        description="Relay commits from git, Subversion and forge webhooks to Pivotal Tracker.",
    )
    parser.add_argument("--version", action="version", version=f"hookrelay {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = (_MODULE_OF[command],) if command in _MODULE_OF else _MODULES
    for name in modules:
        importlib.import_module(f"hookrelay.cli.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (errors are one line on stderr)."""
    words = sys.argv[1:] if argv is None else argv
    args = build_parser(_command(words)).parse_args(words)
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
    except BrokenPipeError:
        # The reader went away (`hookrelay parse --jsonl | head`): stop quietly, as other tools
        # do, and point stdout at /dev/null so Python's own flush at exit does not complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except ImportError as exc:
        if not _git_missing(exc):
            raise
        print(
            "hookrelay: error: git is not installed (GitPython needs the git command on PATH, "
            "or GIT_PYTHON_GIT_EXECUTABLE)",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return code


def _git_missing(exc: ImportError) -> bool:
    """Whether ``exc`` is GitPython refusing to load because it found no git executable."""
    # GitPython checks for git when it is first imported and raises a plain ImportError whose
    # message starts "Failed to initialize: Bad git executable." (git/__init__.py, refresh()).
    return "Bad git executable" in str(exc)
