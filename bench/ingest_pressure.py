"""Issue 8 point 4 at full size: twenty 25 MB signed pushes (36,733 commits each) and 200
slowloris connections against a real ``hookrelay serve``.

Goal: ``/healthz`` p99 <= 1 s, a one-commit push <= 2 s, peak RSS <= 600 MB, all 20 queued.
``tests/reliability/test_pressure.py`` runs the same scenario scaled down for CI.

Run: .venv/bin/python bench/ingest_pressure.py [PUSHES]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.reliability.pressure import MB, run_pressure

COMMITS = 36_733  # a 25 MB push of GitHub-shaped commits


def main() -> int:
    pushes = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with tempfile.TemporaryDirectory() as folder:
        figures = run_pressure(
            Path(folder),
            pushes=pushes,
            commits_per_push=COMMITS,
            commit_bytes=25 * MB // COMMITS,
            slowloris=200,
            extra_env={k: v for k, v in os.environ.items() if k.startswith("HOOKRELAY_")},
        )
    print(figures.report())
    ok = (
        figures.queued_pushes == figures.pushes
        and figures.health_p99 <= 1.0
        and figures.small_push_max <= 2.0
        and figures.peak_rss_bytes <= 600 * MB
    )
    print("goal met" if ok else "goal NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
