"""``hookrelay parse``: the stories and actions a commit message names."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from hookrelay.core.messages import StoryRef, parse_message
from hookrelay.exceptions import InputError

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add ``parse`` to the command line."""
    parser = commands.add_parser(
        "parse",
        help="show the stories and actions a commit message names",
        description=(
            "Read a commit message as Tracker does and print the stories it names. "
            "MESSAGE '-' reads the message from stdin; --jsonl reads one JSON object a line "
            '({"message": ...}) from stdin and writes one {"stories": ...} a line.'
        ),
    )
    parser.add_argument("message", nargs="?", metavar="MESSAGE", help="the message, or - for stdin")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help='print {"stories": [...]}')
    output.add_argument("--jsonl", action="store_true", help="read and write JSON lines on stdio")
    parser.set_defaults(handler=run)
    parser.set_defaults(usage_error=parser.error)


def _as_json(stories: tuple[StoryRef, ...]) -> dict[str, list[dict[str, object]]]:
    return {"stories": [{"id": s.id, "action": s.action.label} for s in stories]}


def _read_stdin() -> str:
    return sys.stdin.buffer.read().decode("utf-8", errors="replace")


def run(args: argparse.Namespace) -> int:
    """Print what the message names; with --jsonl, audit a whole history from stdin."""
    if args.jsonl:
        if args.message is not None:
            args.usage_error("--jsonl reads stdin; give no MESSAGE")
        return _run_jsonl(sys.stdin.buffer, sys.stdout)
    if args.message is None:
        args.usage_error("give a MESSAGE, or - to read one from stdin")
    message = _read_stdin() if args.message == "-" else args.message
    stories = parse_message(message)
    if args.json:
        print(json.dumps(_as_json(stories)))
    else:
        for story in stories:
            print(f"{story.id} {story.action.label}")
    return 0


def _run_jsonl(lines: Any, out: TextIO) -> int:
    for number, raw in enumerate(lines, start=1):
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            continue
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InputError(f"stdin line {number} is not JSON: {exc}") from exc
        message = document.get("message") if isinstance(document, dict) else None
        if not isinstance(message, str):
            raise InputError(f'stdin line {number} has no "message" string')
        out.write(json.dumps(_as_json(parse_message(message))) + "\n")
    return 0
