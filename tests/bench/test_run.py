"""bench/run.py's machinery keeps working: a tiny run of every benchmark, and its goal logic."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import Result, failed, table

REPO = Path(__file__).resolve().parents[2]
NAMES = ["parse", "ingest", "deliver", "git-push-1000", "memory-25mb", "lease-100k"]


def test_smoke_run_measures_every_benchmark_and_writes_the_json(tmp_path: Path) -> None:
    """``bench/run.py --smoke`` runs each benchmark at a tiny scale (real serve, worker, hooks
    and store), prints the table, and writes ``{"machine", "benchmarks"}`` with every field."""
    output = tmp_path / "latest.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--smoke", "--output", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(output.read_text())
    assert document["machine"]["cores"] >= 1
    assert document["machine"]["scale"] == "smoke"
    by_name = {b["name"]: b for b in document["benchmarks"]}
    for name in NAMES:
        benchmark = by_name[name]
        assert {"name", "ours", "baseline", "baseline_name", "ratio", "unit"} <= set(benchmark)
        assert benchmark["error"] == "", benchmark
        assert math.isfinite(benchmark["ours"]), benchmark  # git-push's "seconds added" may be ~0
        assert benchmark["baseline"] > 0, benchmark
        assert math.isclose(
            benchmark["ratio"],
            benchmark["ours"] / benchmark["baseline"],
            rel_tol=1e-3,
            abs_tol=1e-4,
        )
        assert name in done.stdout
    assert {"ingest", "parse_per_kb"} <= set(document["growth"])


GOALS = [
    ("ratio under the limit", "ratio <= 2", 3.0, 2.0, {}, True),
    ("ratio over the limit", "ratio <= 2", 5.0, 2.0, {}, False),
    ("ratio at least", "ratio >= 0.5", 1.0, 4.0, {}, False),
    ("ours in seconds", "ours <= 1", 0.4, 0.05, {}, True),
    ("both clauses hold", "ratio >= 0.5 and p99_ms < 100", 3.0, 4.0, {"p99_ms": 99.0}, True),
    ("second clause fails", "ratio >= 0.5 and p99_ms < 100", 3.0, 4.0, {"p99_ms": 100.0}, False),
    ("no goal", "", 1.0, 1.0, {}, None),
]


@pytest.mark.parametrize(
    ("goal", "ours", "baseline", "detail", "met"), [g[1:] for g in GOALS], ids=[g[0] for g in GOALS]
)
def test_goal_is_read_from_its_clauses(
    goal: str, ours: float, baseline: float, detail: dict[str, float], met: bool | None
) -> None:
    """A result's goal (``ratio``, ``ours`` or a detail, compared with < <= >= >) decides "met"."""
    result = Result("x", ours, baseline, "b", "u", goal, 1, detail)
    assert result.met() is met
    assert result.as_json()["met"] is met


def test_a_failed_benchmark_shows_its_error_and_null_figures() -> None:
    """A benchmark that raised is a table line with its reason, and nulls (not NaN) in JSON."""
    result = failed("ingest", "ratio >= 0.5", RuntimeError("serve answered {503: 4}"))
    assert result.as_json()["ours"] is None
    assert result.as_json()["ratio"] is None
    assert result.met() is None
    assert "RuntimeError: serve answered {503: 4}" in table([result])
