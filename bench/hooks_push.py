"""How long a push waits for hookrelay's hook, shell and Python, against a plain push.

Run: ``.venv/bin/python bench/hooks_push.py``. For pushes of 1 and 1,000 story commits to a
loopback Tracker stand-in (answering at once, or after 20 ms like a distant Tracker), it prints
the time the pusher waits (the foreground), the time until every commit has arrived, the TCP
connections used, and each time as a ratio to the same push into a repository without a hook,
measured in the same run. The hooks keep their default 4-second foreground budget.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
import time
from pathlib import Path

from tests.hooks.repos import GitWorld, install, wait_for
from tests.support.recorder import Received, Reply, running_recorder

CASES = ((1, 0.0, 3), (1000, 0.0, 3), (1000, 0.02, 1))  # commits, answer delay, rounds


def one_push(form: str | None, size: int, delay: float) -> tuple[float, float, int]:
    """Seconds the push took, seconds until all commits arrived, connections used."""
    with tempfile.TemporaryDirectory() as folder, running_recorder() as recorder:

        def slow(_: Received) -> Reply:
            time.sleep(delay)  # a distant Tracker's round trip
            return Reply(200, b"<source_commit/>")

        recorder.responder = slow
        world = GitWorld(Path(folder))
        if form is not None:
            with contextlib.redirect_stdout(io.StringIO()):
                install("git", world.server, form, f"{recorder.url}/services/v3")
        world.fast_import([f"[#{n}] change {n}".encode() for n in range(1, size + 1)])
        started = time.perf_counter()
        world.push("main")
        pushed = time.perf_counter() - started
        if form is not None:
            wait_for(lambda: len(recorder.received) >= size, within=300, what="delivery")
            wait_for(lambda: not (world.state() / "lock").exists(), what="the sender to finish")
        delivered = time.perf_counter() - started
        return pushed, delivered, recorder.connections


def main() -> None:
    """Print one line a (form, size)."""
    for size, delay, rounds in CASES:
        baseline = statistics.median(one_push(None, size, delay)[0] for _ in range(rounds))
        where = f"{size:>5} commits, Tracker answers in {delay * 1000:.0f} ms"
        print(f"{where}, no hook: push {baseline:.3f} s")
        for form in ("shell", "python"):
            runs = [one_push(form, size, delay) for _ in range(rounds)]
            pushed = statistics.median(r[0] for r in runs)
            delivered = statistics.median(r[1] for r in runs)
            connections = max(r[2] for r in runs)
            print(
                f"{where}, {form:>6}: push {pushed:.3f} s ({pushed / baseline:.1f}x), "
                f"all delivered {delivered:.3f} s ({delivered / baseline:.1f}x), "
                f"{connections} connection(s)"
            )


if __name__ == "__main__":
    main()
