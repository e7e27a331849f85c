"""``hookrelay serve`` (receiver and delivery workers in one process) and ``hookrelay worker``.

The arguments only: the process they start is ``hookrelay.service``, imported when a command
runs so that other commands (a git hook) do not load the web stack.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register", "run_serve", "run_worker"]


def register(commands: Any) -> None:
    """Add ``serve`` and ``worker`` to the command line."""
    serve = commands.add_parser(
        "serve",
        help="run the receiver and the delivery workers",
        description=(
            "Receive GitHub/Gitea/Gogs/GitLab webhooks and Tracker source_commits, queue them "
            "durably, and deliver them to Tracker. Settings: HOOKRELAY_* variables or --config."
        ),
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1; HOOKRELAY_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080; HOOKRELAY_PORT)")
    serve.add_argument(
        "--emulator",
        action="store_true",
        default=None,
        help="with no Tracker configured, serve the built-in Tracker emulator even on an address "
        "beyond loopback, for a demo (HOOKRELAY_EMULATOR); on loopback it is served anyway",
    )
    _common(serve)
    serve.set_defaults(handler=run_serve)

    worker = commands.add_parser(
        "worker",
        help="run the delivery workers only",
        description=(
            "Deliver queued commits to Tracker without receiving any: for deployments that run "
            "receivers and workers apart on one PostgreSQL queue."
        ),
    )
    _common(worker)
    worker.set_defaults(handler=run_worker)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="a TOML settings file")
    parser.add_argument(
        "--log-format", choices=("text", "json"), help="log lines as text or JSON objects"
    )


def run_serve(args: argparse.Namespace) -> int:
    """Receive and deliver until SIGTERM/SIGINT."""
    from hookrelay import service

    return service.serve(service.settings_from(args))


def run_worker(args: argparse.Namespace) -> int:
    """Deliver until SIGTERM/SIGINT."""
    from hookrelay import service

    return service.work(service.settings_from(args))
