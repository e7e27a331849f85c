"""How fast the relay acknowledges a push and gets it to Tracker, against same-run baselines.

Acknowledgement (what GitHub waits for, with a 10 s budget): signed pushes of 1 and 20 story
commits posted to a real ``POST /github`` (uvicorn on loopback, SQLite queue, durable write
before the 202). Baseline: ``GET /healthz`` on the same server, i.e. one HTTP round trip with no
signature check, parsing or write. Printed: median and 95th percentile per request, and the
ratio of medians.

Delivery: the same relay with its workers on, pushing N commits and waiting until the emulator
has a comment for each. Baseline: ``TrackerClient.post`` of the same N commits straight to the
emulator, one at a time, with no queue. Printed: commits per second and the ratio.

Run: .venv/bin/python bench/relay_webhooks.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parents[1]))

from hookrelay.core.signatures import sign
from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import TrackerTarget
from hookrelay.metrics import RelayMetrics
from hookrelay.queue import open_store
from hookrelay.service import delivery_http_client, delivery_worker
from hookrelay.settings import Settings
from hookrelay.tracker.client import TrackerClient, make_http_client
from hookrelay.web import create_app
from tests.support.emulator import running_emulator
from tests.web.conftest import push_body, pushed_commit
from tests.web.server import running_app

SECRET = "bench-secret"  # noqa: S105 - signs made-up pushes
REQUESTS = 200
DELIVERIES = 200
_counter = iter(range(1, 10**9))


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def timed_requests(send: Callable[[], httpx.Response], expected: int) -> list[float]:
    samples = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        answer = send()
        samples.append(time.perf_counter() - start)
        assert answer.status_code == expected, answer.text
    return samples


def signed_push(story: int, commits: int) -> tuple[bytes, dict[str, str]]:
    body = push_body(
        [
            pushed_commit(f"{next(_counter):040x}", f"[#{story}] bench commit")
            for _ in range(commits)
        ]
    )
    headers = {
        "X-GitHub-Event": "push",
        "Content-Type": "application/json",
        "X-Hub-Signature-256": "sha256=" + sign(body, SECRET),
    }
    return body, headers


def acknowledgement(folder: Path) -> None:
    settings = Settings.model_validate(
        {
            "database_url": f"sqlite:///{folder / 'ack.db'}",
            "github_secret": SECRET,
            "tracker_url": "http://127.0.0.1:9/services/v5",
            "tracker_token": "t",
        }
    )
    store = open_store(settings.database_url)
    try:
        with running_app(create_app(settings, store)) as server:
            client = server.client
            for _ in range(20):  # warm up connections and code paths
                client.get("/healthz")
            baseline = timed_requests(lambda: client.get("/healthz"), 200)
            base_median, base_p95 = percentiles(baseline)
            print(f"acknowledgement ({REQUESTS} requests each; SQLite, synchronous=FULL)")
            name = "GET /healthz (baseline)"
            print(f"  {name:<34} median {base_median * 1e3:7.2f} ms  p95 {base_p95 * 1e3:7.2f} ms")
            for commits in (1, 20):

                def send(commits: int = commits) -> httpx.Response:
                    body, headers = signed_push(1, commits)
                    return client.post("/github", content=body, headers=headers)

                median, p95 = percentiles(timed_requests(send, 202))
                name = f"POST /github, {commits} commit(s)"
                print(
                    f"  {name:<34} median {median * 1e3:7.2f} ms  p95 {p95 * 1e3:7.2f} ms"
                    f"  {median / base_median:6.2f}x baseline"
                )
    finally:
        store.close()


def delivery(folder: Path) -> None:
    with running_emulator() as tracker:
        project = tracker.create_project("bench")
        story = tracker.create_story(project, "Bench", "feature")
        target = TrackerTarget.parse(tracker.v5_url)
        with make_http_client() as http:
            client = TrackerClient(http, target, tracker.token)
            start = time.perf_counter()
            for n in range(DELIVERIES):
                commit = SourceCommit.of(
                    commit_id=f"direct-{n}", message=f"[#{story}] d", author="b"
                )
                client.post(commit)
            direct = time.perf_counter() - start

        settings = Settings.model_validate(
            {
                "database_url": f"sqlite:///{folder / 'delivery.db'}",
                "github_secret": SECRET,
                "tracker_url": tracker.v5_url,
                "tracker_token": tracker.token,
                "poll_interval": 0.01,
                "concurrency": 4,
            }
        )
        store = open_store(settings.database_url)
        http = delivery_http_client(settings)
        stop = threading.Event()
        worker = threading.Thread(
            target=delivery_worker(settings, store, http, RelayMetrics()).run, args=(stop,)
        )
        worker.start()
        try:
            with running_app(create_app(settings, store)) as server:
                start = time.perf_counter()
                for _ in range(DELIVERIES // 20):
                    body, headers = signed_push(story, 20)
                    assert (
                        server.client.post("/github", content=body, headers=headers).status_code
                        == 202
                    )
                while len(tracker.comments(project, story)) < 2 * DELIVERIES:
                    time.sleep(0.01)
                relayed = time.perf_counter() - start
        finally:
            stop.set()
            worker.join()
            http.close()
            store.close()
    print(f"delivery ({DELIVERIES} commits to the emulator)")
    print(f"  {'direct TrackerClient.post (baseline)':<34} {DELIVERIES / direct:8.0f} commits/s")
    print(
        f"  {'push -> queue -> 4 workers':<34} {DELIVERIES / relayed:8.0f} commits/s"
        f"  {direct / relayed:6.2f}x baseline throughput"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        acknowledgement(Path(folder))
        delivery(Path(folder))


if __name__ == "__main__":
    main()
