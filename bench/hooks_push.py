"""How long a push waits for hookrelay's hook, shell and Python, against the same push without.

Run: ``.venv/bin/python bench/hooks_push.py [--rounds N]``. It prints, for pushes of 1 and 1,000
story commits to a loopback Tracker stand-in answering in 20 ms (a distant Tracker), the time
the pusher waits with each hook form and with no hook, measured interleaved in the same run
(medians of the rounds), the seconds each hook adds, and the TCP connections it used. After
each push the stand-in answers at once, so the background sender drains quickly before the
next round starts.

``git_push_1000()`` is the ``git-push-1000`` benchmark of ``bench/run.py``: ``ours`` is the
seconds the worse hook form adds to a 1,000-commit push (goal: at most 1 s).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.hooks.repos import GitWorld, install
from tests.support.recorder import Received, Reply, running_recorder
from tests.support.waiting import wait_until

FORMS = ("shell", "python")
DELAY = 0.02  # a distant Tracker's round trip


def one_push(form: str | None, size: int, delay: float = DELAY) -> tuple[float, int]:
    """Seconds the push took (``form`` None: no hook), and the connections the hook used
    until every commit had arrived."""
    with tempfile.TemporaryDirectory() as folder, running_recorder() as recorder:
        answer_after = [delay]

        def answer(_: Received) -> Reply:
            time.sleep(answer_after[0])
            return Reply(200, b"<source_commit/>")

        recorder.responder = answer
        world = GitWorld(Path(folder))
        if form is not None:
            with contextlib.redirect_stdout(io.StringIO()):
                install("git", world.server, form, f"{recorder.url}/services/v3")
        world.fast_import([f"[#{n}] change {n}".encode() for n in range(1, size + 1)])
        started = time.perf_counter()
        world.push("main")
        pushed = time.perf_counter() - started
        answer_after[0] = 0.0  # drain fast: the next round must not share the machine with it
        if form is not None:
            wait_until(lambda: len(recorder.received) >= size, 300, "delivery")
            wait_until(lambda: not (world.state() / "lock").exists(), 30, "the sender to finish")
        return pushed, recorder.connections


def measure(size: int, rounds: int) -> dict[str, Any]:
    """Each form and the plain push, interleaved, ``rounds`` times: median seconds each."""
    runs: dict[str, list[float]] = {"none": [], **{form: [] for form in FORMS}}
    connections: dict[str, int] = dict.fromkeys(FORMS, 0)
    for _ in range(rounds):
        runs["none"].append(one_push(None, size)[0])
        for form in FORMS:
            seconds, used = one_push(form, size)
            runs[form].append(seconds)
            connections[form] = max(connections[form], used)
    medians = {name: statistics.median(times) for name, times in runs.items()}
    return {"medians": medians, "connections": connections}


def git_push_1000(rounds: int = 3) -> dict[str, Any]:
    """The ``git-push-1000`` benchmark: seconds the worse hook form adds to a push of 1,000
    story commits with Tracker answering in 20 ms, against the same push with no hook."""
    result = measure(1000, rounds)
    medians = result["medians"]
    added = {form: medians[form] - medians["none"] for form in FORMS}
    worse = max(FORMS, key=lambda form: added[form])
    return {
        "name": "git-push-1000",
        "ours": round(added[worse], 3),
        "baseline": round(medians["none"], 3),
        "baseline_name": "the same push with no hook",
        "ratio": round(medians[worse] / medians["none"], 2),
        "unit": "s added",
        "forms": {form: round(added[form], 3) for form in FORMS},
        "rounds": rounds,
    }


def main() -> None:
    """Print one line a (size, form)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    for size in (1, 1000):
        result = measure(size, rounds)
        medians = result["medians"]
        where = f"{size:>5} commits, Tracker answers in {DELAY * 1000:.0f} ms"
        print(f"{where}, no hook: push {medians['none']:.3f} s")
        for form in FORMS:
            print(
                f"{where}, {form:>6}: push {medians[form]:.3f} s, "
                f"adds {medians[form] - medians['none']:+.3f} s, "
                f"{result['connections'][form]} connection(s) ({rounds} rounds, medians)"
            )


if __name__ == "__main__":
    main()
