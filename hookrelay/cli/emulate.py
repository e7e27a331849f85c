"""``hookrelay emulate``: run a Tracker-compatible server, for demos and tests.

Start-up prints the API URLs, the accepted token and a seeded demo project (one story of each
type) with a ready-to-paste ``curl``, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import signal
from types import FrameType
from typing import Any

from hookrelay.exceptions import ConfigError

__all__ = ["DEFAULT_PORT", "register", "run"]

DEFAULT_PORT = 8700


def register(commands: Any) -> None:
    """Add ``emulate`` to the command line."""
    parser = commands.add_parser(
        "emulate",
        help="run a Tracker-compatible server with a demo project",
        description=(
            "Serve Pivotal Tracker's source_commits API (v3 XML and v5 JSON), projects, stories "
            "and comments, so hookrelay can be tried end to end without Tracker."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port (default: %(default)s; 0 picks a free one)",
    )
    parser.add_argument(
        "--token", help="the API token to accept (default: the demo token, printed at start-up)"
    )
    parser.add_argument(
        "--data", metavar="FILE", help="keep projects and stories in this SQLite file"
    )
    parser.add_argument(
        "--max-projects", type=_positive, metavar="N", help="hold at most N projects (100)"
    )
    parser.add_argument(
        "--max-stories", type=_positive, metavar="N", help="hold at most N stories (10000)"
    )
    parser.add_argument(
        "--max-comments", type=_positive, metavar="N", help="hold at most N comments (100000)"
    )
    parser.add_argument(
        "--max-body-bytes",
        type=_positive,
        metavar="N",
        help="refuse larger request bodies with 413 (default: the relay's, 26 MB)",
    )
    parser.set_defaults(handler=run)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def run(args: argparse.Namespace) -> int:
    """Seed the demo project, print how to reach it, and serve until interrupted."""
    import sqlite3

    import uvicorn

    from hookrelay.emulator.app import DEFAULT_MAX_BODY_BYTES, create_app
    from hookrelay.emulator.demo import DEMO_TOKEN, banner, seed_demo
    from hookrelay.emulator.world import (
        DEFAULT_MAX_COMMENTS,
        DEFAULT_MAX_PROJECTS,
        DEFAULT_MAX_STORIES,
        World,
    )
    from hookrelay.listening import listen, url_host

    token = DEMO_TOKEN if args.token is None else args.token
    if not token:
        raise ConfigError("--token must not be empty")
    try:
        world = World.open(
            args.data,
            max_projects=args.max_projects or DEFAULT_MAX_PROJECTS,
            max_stories=args.max_stories or DEFAULT_MAX_STORIES,
            max_comments=args.max_comments or DEFAULT_MAX_COMMENTS,
        )
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open --data {args.data}: {exc}") from exc
    try:
        listener = listen(args.host, args.port)
        with listener:
            port = listener.getsockname()[1]
            base_url = f"http://{url_host(args.host)}:{port}"
            print(banner(base_url, token, seed_demo(world)), flush=True)
            config = uvicorn.Config(
                create_app(
                    world, token, max_body_bytes=args.max_body_bytes or DEFAULT_MAX_BODY_BYTES
                ),
                log_level="warning",
                lifespan="off",
                ws="none",
            )
            # uvicorn stops gracefully on SIGTERM, then raises it again for the handler that was
            # there before; this one makes that a clean exit 0 (``docker stop``).
            previous = signal.signal(signal.SIGTERM, _stopped)
            try:
                uvicorn.Server(config).run(sockets=[listener])
            finally:
                signal.signal(signal.SIGTERM, previous)
    finally:
        world.close()
    return 0


def _stopped(signum: int, frame: FrameType | None) -> None:
    """SIGTERM after uvicorn has finished its requests: nothing left to do."""
