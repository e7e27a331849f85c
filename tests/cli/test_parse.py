"""`hookrelay parse` as a user runs it: the real command in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import FIXTURES


def hookrelay(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run the installed command line (python -m hookrelay) and capture what it prints."""
    return subprocess.run(
        [sys.executable, "-m", "hookrelay", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_human_lines() -> None:
    """Without --json, each story prints as 'ID action' on its own line."""
    result = hookrelay("parse", "[Fixes #123 #456] and [#7]")
    assert result.returncode == 0
    assert result.stdout.decode().splitlines() == ["123 finish", "456 finish", "7 start"]


def test_json_output() -> None:
    """--json prints the documented {"stories": [...]} object."""
    result = hookrelay("parse", "--json", "[Finishes #12345678] Torpedoes powered")
    assert json.loads(result.stdout) == {"stories": [{"id": 12345678, "action": "finish"}]}


def test_message_from_stdin_with_invalid_utf8() -> None:
    """'-' reads the message from stdin, decoding invalid UTF-8 with replacement."""
    result = hookrelay("parse", "--json", "-", stdin=b"\xff\xfe [Delivers #9]\r\n")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"stories": [{"id": 9, "action": "deliver"}]}


def test_no_story_prints_nothing_and_succeeds() -> None:
    """A message naming no story prints nothing and exits 0."""
    result = hookrelay("parse", "Fixes #123 without brackets")
    assert (result.returncode, result.stdout) == (0, b"")


def test_jsonl_audits_a_whole_history() -> None:
    """--jsonl turns every real message of a history into one stories line, in order."""
    source = (FIXTURES / "commit-messages" / "cloudfoundry.jsonl").read_bytes()
    result = hookrelay("parse", "--jsonl", stdin=source)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 3702
    first = json.loads(lines[0])
    assert first == {
        "stories": [{"id": 56561968, "action": "start"}, {"id": 56649444, "action": "start"}]
    }


USAGE = [
    ("no message", ["parse"], b""),
    ("jsonl with a message", ["parse", "--jsonl", "[#1]"], b""),
    ("json and jsonl", ["parse", "--json", "--jsonl"], b""),
    ("jsonl line not json", ["parse", "--jsonl"], b'{"message": "[#1]"}\nnot json\n'),
    ("jsonl line without message", ["parse", "--jsonl"], b'{"msg": "[#1]"}\n'),
    ("unknown command", ["frobnicate"], b""),
]


@pytest.mark.parametrize(("args", "stdin"), [u[1:] for u in USAGE], ids=[u[0] for u in USAGE])
def test_usage_errors_exit_2_with_one_line(args: list[str], stdin: bytes) -> None:
    """A usage error or bad input line exits 2 and names the problem on stderr's last line."""
    result = hookrelay(*args, stdin=stdin)
    assert result.returncode == 2
    last = result.stderr.decode().strip().splitlines()[-1]
    assert "error" in last


def test_bad_jsonl_line_is_named() -> None:
    """The error for a bad --jsonl line names its line number."""
    result = hookrelay("parse", "--jsonl", stdin=b'{"message": "a"}\n\n[1, 2]\n')
    assert "line 3" in result.stderr.decode()


def test_help_lists_every_command() -> None:
    """`hookrelay --help` lists every documented command."""
    out = hookrelay("--help").stdout.decode()
    for command in ("serve", "worker", "parse", "hooks", "hook", "deliveries", "emulate"):
        assert command in out


def test_jsonl_into_a_reader_that_stops_early_is_quiet() -> None:
    """`parse --jsonl | head -1`: when the reader closes the pipe, the command stops with exit 1
    and no traceback on stderr."""
    source = (FIXTURES / "commit-messages" / "cloudfoundry.jsonl").read_bytes()
    command = subprocess.Popen(
        [sys.executable, "-m", "hookrelay", "parse", "--jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert command.stdout is not None
    command.stdout.close()  # the reader is gone before the first line is written
    try:
        _, stderr = command.communicate(source, timeout=60)
    finally:
        command.kill()
    assert (command.returncode, stderr) == (1, b"")
