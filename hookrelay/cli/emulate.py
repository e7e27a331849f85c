"""``hookrelay emulate``: run a Tracker-compatible server, for demos and tests.

Start-up prints the API URLs, the accepted token and a seeded demo project (one story of each
type) with a ready-to-paste ``curl``, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import shlex
import socket
import sqlite3
from typing import Any

import uvicorn

from hookrelay.emulator.app import DEMO_TOKEN, create_app
from hookrelay.emulator.demo import DemoProject, seed_demo
from hookrelay.emulator.world import World
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
        "--token", default=DEMO_TOKEN, help="the API token to accept (default: the demo token)"
    )
    parser.add_argument(
        "--data", metavar="FILE", help="keep projects and stories in this SQLite file"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Seed the demo project, print how to reach it, and serve until interrupted."""
    if not args.token:
        raise ConfigError("--token must not be empty")
    try:
        world = World.open(args.data)
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open --data {args.data}: {exc}") from exc
    try:
        listener = _listen(args.host, args.port)
        with listener:
            port = listener.getsockname()[1]
            base_url = f"http://{_url_host(args.host)}:{port}"
            print(_banner(base_url, args.token, seed_demo(world)), flush=True)
            config = uvicorn.Config(
                create_app(world, args.token), log_level="warning", lifespan="off", ws="none"
            )
            uvicorn.Server(config).run(sockets=[listener])
    finally:
        world.close()
    return 0


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every answer waits ~40 ms on Nagle and delayed ACKs.
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return listener


def _url_host(host: str) -> str:
    if host in {"0.0.0.0", "::"}:  # noqa: S104 (naming the wildcard, not binding to it)
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _banner(base_url: str, token: str, demo: DemoProject) -> str:
    v5 = f"{base_url}/services/v5"
    header = shlex.quote(f"X-TrackerToken: {token}")
    lines = [
        f"Tracker emulator on {base_url}",
        f"  v5 API (JSON): {v5}",
        f"  v3 API (XML):  {base_url}/services/v3",
        f"  token:         {token}",
        f"  project {demo.project.id} ({demo.project.name}):",
    ]
    lines += [
        f"    {story.story_type:<8} {story.id}  {story.name} ({story.current_state})"
        for story in demo.stories
    ]
    if demo.stories:
        feature = demo.stories[0]
        body = (
            '{"source_commit": {"commit_id": "abc123", "author": "Scotty", "url": "",'
            f' "message": "[Finishes #{feature.id}] Torpedoes powered"}}}}'
        )
        lines += [
            "  try:",
            f"    curl -H {header} -H 'Content-Type: application/json' \\",
            f"      -d {shlex.quote(body)} {v5}/source_commits",
            f"    curl -H {header} {v5}/projects/{demo.project.id}/stories/{feature.id}",
        ]
    return "\n".join(lines)
