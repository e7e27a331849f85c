"""The machinery of ``bench/run.py``: interleaved rounds, medians, the table and the JSON file.

A benchmark measures *ours* and its *baseline* in the same run, alternating them round by
round (so a busy moment of the machine hits both), and reports the median of each and their
ratio ``ours / baseline``. Each result carries the goal it is held to, so the table says at a
glance which goals hold on this machine today.
"""

from __future__ import annotations

import json
import math
import operator
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    """One line of the table: ours and its baseline (medians), their ratio, and the goal."""

    name: str
    ours: float
    baseline: float
    baseline_name: str
    unit: str
    goal: str = ""  # e.g. "ratio <= 2", "ratio >= 0.5", "ours <= 1"
    rounds: int = 0
    detail: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def ratio(self) -> float:
        """``ours / baseline`` (NaN when the baseline is zero or the benchmark failed)."""
        if self.error or not self.baseline:
            return float("nan")
        return self.ours / self.baseline

    def met(self) -> bool | None:
        """Whether the goal holds (None when there is no goal or the benchmark failed).

        A goal is clauses joined by `` and ``, each ``SUBJECT OP LIMIT``: the subject is
        ``ratio``, ``ours`` or a key of ``detail`` (``p99_ms``); OP is one of < <= >= >.
        """
        if not self.goal or self.error:
            return None
        for clause in self.goal.split(" and "):
            subject, operator, limit = clause.split()
            value = {"ratio": self.ratio, "ours": self.ours}.get(subject)
            if value is None:
                value = float(self.detail[subject])
            if not _COMPARE[operator](value, float(limit)):
                return False
        return True

    def as_json(self) -> dict[str, Any]:
        """The result as ``latest.json`` holds it (NaN written as null)."""
        data = {k: _finite(v) for k, v in asdict(self).items()}
        data["ratio"] = _finite(round(self.ratio, 4))
        data["met"] = self.met()
        return data


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">=": operator.ge,
    ">": operator.gt,
}


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


SKIPPED = "skipped: "


def failed(name: str, goal: str, exc: BaseException) -> Result:
    """A benchmark that could not run: reported in the table, not fatal to the others."""
    reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    return Result(name, math.nan, math.nan, "", "", goal, error=reason)


def skipped(name: str, goal: str, why: str) -> Result:
    """A benchmark not run this time, and why (no PostgreSQL, or not at this scale)."""
    return Result(name, math.nan, math.nan, "", "", goal, error=SKIPPED + why)


def interleaved(
    rounds: int, ours: Callable[[], float], baseline: Callable[[], float]
) -> tuple[float, float, list[tuple[float, float]]]:
    """Run ``baseline`` then ``ours`` ``rounds`` times, alternating; return both medians and
    every round's pair (each call returns one round's figure)."""
    pairs = []
    for _ in range(rounds):
        base = baseline()
        mine = ours()
        pairs.append((mine, base))
    return (
        statistics.median(p[0] for p in pairs),
        statistics.median(p[1] for p in pairs),
        pairs,
    )


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``samples`` (nearest rank)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    return os.getloadavg()


def machine() -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores, load, Python, the commit."""
    cpu = ""
    with_cpuinfo = Path("/proc/cpuinfo")
    if with_cpuinfo.exists():
        for line in with_cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in load_average()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _figure(value: float) -> str:
    if math.isnan(value):
        return "-"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.01:
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return f"{value:.2e}"


def table(results: Sequence[Result]) -> str:
    """The results as a plain-text table, one line a benchmark."""
    header = ("benchmark", "ours", "baseline", "unit", "ratio", "goal", "met", "baseline is")
    rows = [header]
    for r in results:
        met = {True: "yes", False: "NO", None: "-"}[r.met()]
        rows.append(
            (
                r.name,
                _figure(r.ours),
                _figure(r.baseline),
                r.unit,
                "-" if r.error else f"{r.ratio:.2f}x",
                r.goal or "-",
                met if not r.error else "-" if r.error.startswith(SKIPPED) else "ERROR",
                r.error or r.baseline_name,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    lines.insert(1, "-" * min(160, max(len(line) for line in lines)))
    return "\n".join(lines)


def growth_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """One of the "how each cost grows" tables."""
    all_rows = [tuple(columns), *[tuple(r) for r in rows]]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(columns))]
    lines = [title]
    lines += [
        "  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in all_rows
    ]
    return "\n".join(lines)


def write_json(
    path: Path,
    machine_info: dict[str, Any],
    results: Sequence[Result],
    growth: dict[str, Any],
    command: str,
) -> None:
    """Write ``{"machine", "command", "benchmarks", "growth"}`` to ``path`` (folders made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {**machine_info, "load_average_at_end": [round(x, 2) for x in load_average()]}
    document = {
        "machine": info,
        "command": command,
        "benchmarks": [r.as_json() for r in results],
        "growth": growth,
    }
    path.write_text(json.dumps(document, indent=2, allow_nan=False, default=str) + "\n")
