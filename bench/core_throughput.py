"""How fast the core reads and renders real commits, against a baseline measured in the same run.

Baseline: one regular-expression scan of each message for bracket groups (the least any parser
must do). Measured: parse_message, and parse + render to v3 XML and v5 JSON, over the 3,702 real
Cloud Foundry messages. Prints per-message times and the ratios to the baseline.

Run: .venv/bin/python bench/core_throughput.py
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from hookrelay.core.messages import parse_message
from hookrelay.core.source_commit import SourceCommit, render_v3_xml, render_v5_json

CORPUS = Path(__file__).parents[1] / "tests/fixtures/commit-messages/cloudfoundry.jsonl"
GROUP = re.compile(r"\[([^\[\]]*)\]")


def best_of(runs: int, work: Callable[[], object]) -> float:
    """The fastest of several timed runs (the one least disturbed by the machine)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    records = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    messages = [r["message"] for r in records]
    n = len(messages)

    def baseline() -> None:
        for m in messages:
            GROUP.findall(m)

    def parse_all() -> None:
        for m in messages:
            parse_message(m)

    def relay_all() -> None:
        for r in records:
            parse_message(r["message"])
            c = SourceCommit.of(commit_id=r["sha"], message=r["message"], author=r["author"])
            render_v3_xml(c)
            render_v5_json(c)

    base = best_of(7, baseline)
    parse = best_of(7, parse_all)
    relay = best_of(7, relay_all)
    sizes = [len(m) for m in messages]
    print(f"{n} real messages, median {statistics.median(sizes):.0f} chars")
    print(f"baseline regex scan   {base / n * 1e6:8.2f} µs/message")
    for name, seconds in (("parse_message", parse), ("parse + render v3+v5", relay)):
        print(f"{name:<21} {seconds / n * 1e6:8.2f} µs/message  ({seconds / base:.1f}x baseline)")

    big = "[Fixes #1] " + "& < > ]]> \N{SNOWMAN} " * 100_000
    big_commit = SourceCommit.of(commit_id="x", message=big, author="a")
    one_mb = best_of(3, lambda: (parse_message(big), render_v3_xml(big_commit)))
    print(f"one {len(big) / 1e6:.1f} MB message: parse + render v3 in {one_mb * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
