"""What only the SQLite store has to handle: a process killed right after it queued a commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hookrelay.queue import State, open_store

CHILD = """
import sys
from hookrelay.queue import NewDelivery, open_store
store = open_store(sys.argv[1])
for n in range(50):
    store.enqueue([NewDelivery(f"k{n}", "http://127.0.0.1:9/services/v5", "t", "f", f"c{n}", b"{}")],
                  now=1.0)
    print(n, flush=True)  # told only after enqueue returned
sys.stdin.read()  # then wait to be killed
"""


def test_a_commit_survives_kill_9_once_enqueue_returned(tmp_path: Path) -> None:
    """Every commit whose enqueue returned is in the file after the process is killed with SIGKILL."""
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        acknowledged = [child.stdout.readline() for _ in range(50)]
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    assert acknowledged[-1] == "49\n"
    store = open_store(url)
    try:
        assert store.counts()[State.PENDING] == 50
    finally:
        store.close()
