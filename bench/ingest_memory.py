"""Peak memory of one 25 MB push (36,733 commits) in a real ``hookrelay serve``.

Measured: the server's peak RSS (``VmHWM``) after the push minus its RSS before, against the
body's size. Goal (issue 9): growth <= 3x the body.

Run: .venv/bin/python bench/ingest_memory.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.e2e.process import hookrelay_serve
from tests.reliability.pressure import MB, SECRET, TOKEN, big_push, signed, silent_tracker

COMMITS = 36_733


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def measure() -> dict[str, float]:
    """Growth of the server's peak RSS for one 25 MB push, and its ratio to the body."""
    body = big_push(1, COMMITS, 25 * MB // COMMITS)
    with tempfile.TemporaryDirectory() as folder, silent_tracker() as tracker_url:
        env = {
            "HOOKRELAY_DATABASE_URL": f"sqlite:///{Path(folder) / 'q.db'}",
            "HOOKRELAY_TRACKER_URL": tracker_url,
            "HOOKRELAY_TRACKER_TOKEN": TOKEN,
            "HOOKRELAY_GITHUB_SECRET": SECRET,
        }
        with hookrelay_serve(env) as serve:
            warm = big_push(2, 20, 300)
            httpx.post(f"{serve.url}/github", content=warm, headers=signed(warm)).raise_for_status()
            pid = serve.process.pid
            before = _status(pid, "VmRSS")
            answer = httpx.post(
                f"{serve.url}/github", content=body, headers=signed(body), timeout=300
            )
            assert answer.json()["queued"] == COMMITS, answer.text
            peak = _status(pid, "VmHWM")
    growth = peak - before
    return {
        "body_mb": len(body) / MB,
        "rss_before_mb": before / MB,
        "peak_mb": peak / MB,
        "growth_mb": growth / MB,
        "ratio": growth / len(body),
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
