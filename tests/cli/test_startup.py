"""What an installed git hook loads: `hookrelay hook` must not pull in the web stack or psycopg,
which would make every push wait for them."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from hookrelay.cli import build_parser
build_parser().parse_args(["hook", "git-post-receive"])
import hookrelay.hooks.run
heavy = sorted(m for m in ("fastapi", "uvicorn", "starlette", "psycopg", "pydantic_settings") if m in sys.modules)
print(",".join(heavy))
"""


def test_hook_command_loads_no_web_stack() -> None:
    """Parsing a hook command and loading the hook code imports no FastAPI, uvicorn or psycopg."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""
