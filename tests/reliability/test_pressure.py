"""Issue 8 point 4 against a real ``hookrelay serve``: big bodies never stall the event loop.

Twenty concurrent signed pushes and 200 slowloris connections; ``/healthz`` p99 <= 1 s, a
one-commit push <= 2 s, peak RSS <= 600 MB, all twenty queued whole. CI runs the shape at a
twentieth of the size (twenty 1.25 MB pushes of 1,836 commits); ``bench/ingest_pressure.py``
runs twenty 25 MB pushes of 36,733 commits with the same goals.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.pressure import MB, run_pressure

PUSHES = 20
COMMITS = 1_836  # 1/20 of a 25 MB push of GitHub-shaped commits
COMMIT_BYTES = 25 * MB // 36_733


def test_twenty_big_pushes_and_slowloris_leave_the_receiver_responsive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under twenty big pushes and 200 slow connections, health and small pushes stay fast,
    memory stays bounded and every big push is queued whole."""
    figures = run_pressure(
        tmp_path,
        pushes=PUSHES,
        commits_per_push=COMMITS,
        commit_bytes=COMMIT_BYTES,
        slowloris=200,
    )
    with capsys.disabled():
        print(f"\n{figures.report()}")
    assert figures.queued_pushes == PUSHES
    assert figures.health_probes > 0
    assert figures.small_pushes > 0
    assert figures.health_p99 <= 1.0
    assert figures.small_push_max <= 2.0
    assert figures.peak_rss_bytes <= 600 * MB
