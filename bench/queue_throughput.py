"""How fast the queue and the worker go, against baselines measured in the same run.

Store: the baseline is the least a durable queue can do per commit, one raw INSERT committed
on its own connection with the same durability settings (SQLite WAL + synchronous=FULL;
PostgreSQL autocommit). Measured: ``enqueue`` of one commit (what a push of one commit costs
the receiver), and ``lease`` + ``mark_delivered`` of one commit (the worker's bookkeeping).

Worker: the baseline is a loop of raw httpx POSTs to a loopback stand-in for Tracker.
Measured: ``DeliveryWorker.run_once`` draining the same number of queued commits with
concurrency 1 and 4 (lease, post, record).

Run: .venv/bin/python bench/queue_throughput.py   (PostgreSQL too if HOOKRELAY_TEST_POSTGRES_URL)
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parents[1]))

from hookrelay.core.tracker_api import token_fingerprint
from hookrelay.delivery import DeliveryWorker
from hookrelay.queue import NewDelivery, QueueStore, open_store
from hookrelay.tracker.client import make_http_client
from tests.support.recorder import running_recorder

N = 300
TOKEN = "0123456789abcdef0123456789abcdef"  # noqa: S105 - a made-up token
BODY = b'{"source_commit":{"commit_id":"x","message":"[Finishes #1] m","author":"a","url":""}}'


def item(number: int, target: str = "http://127.0.0.1:9/services/v5") -> NewDelivery:
    commit = f"{number:040x}"
    return NewDelivery(
        f"{target} {token_fingerprint(TOKEN)} {commit}",
        target,
        TOKEN,
        token_fingerprint(TOKEN),
        commit,
        BODY,
    )


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def report(name: str, seconds: float, baseline: float) -> None:
    print(f"  {name:<34} {seconds / N * 1e3:8.3f} ms/commit  {seconds / baseline:6.2f}x baseline")


def bench_store(kind: str, url: str, raw_insert: Callable[[int], None]) -> None:
    print(f"{kind} store, {N} commits, one per transaction")
    baseline = timed(lambda: [raw_insert(n) for n in range(N)])
    print(f"  {'baseline: raw INSERT + commit':<34} {baseline / N * 1e3:8.3f} ms/commit")
    store: QueueStore = open_store(url)
    try:
        report(
            "enqueue",
            timed(lambda: [store.enqueue([item(n)], now=0.0) for n in range(N)]),
            baseline,
        )

        def lease_and_mark() -> None:
            for _ in range(N):
                (delivery,) = store.lease(now=1.0, limit=1, lease_seconds=60)
                store.mark_delivered(delivery, now=1.0)

        report("lease + mark_delivered", timed(lease_and_mark), baseline)
    finally:
        store.close()


def sqlite_bench(folder: Path) -> None:
    raw = sqlite3.connect(folder / "raw.db", isolation_level=None)
    raw.execute("PRAGMA journal_mode = WAL")
    raw.execute("PRAGMA synchronous = FULL")
    raw.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, body BLOB)")

    def insert(n: int) -> None:
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("INSERT INTO t (k, body) VALUES (?, ?)", (str(n), BODY))
        raw.execute("COMMIT")

    bench_store("SQLite", f"sqlite:///{folder / 'queue.db'}", insert)
    raw.close()


def postgres_bench(base: str) -> None:
    schema = f"hookrelay_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    try:
        with psycopg.connect(url, autocommit=True) as raw:
            raw.execute("CREATE TABLE t (id bigserial PRIMARY KEY, k text UNIQUE, body bytea)")
            bench_store(
                "PostgreSQL",
                url,
                lambda n: raw.execute("INSERT INTO t (k, body) VALUES (%s, %s)", (str(n), BODY)),
            )
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def worker_bench(folder: Path) -> None:
    print(f"worker over SQLite, {N} commits to a loopback Tracker stand-in")
    with running_recorder() as tracker, make_http_client() as http:
        target = f"{tracker.url}/services/v5"
        headers = {"X-TrackerToken": TOKEN, "Content-Type": "application/json"}
        baseline = timed(
            lambda: [
                http.post(f"{target}/source_commits", content=BODY, headers=headers)
                for _ in range(N)
            ]
        )
        print(f"  {'baseline: raw httpx POST loop':<34} {baseline / N * 1e3:8.3f} ms/commit")
        for concurrency in (1, 4):
            store = open_store(f"sqlite:///{folder / f'worker{concurrency}.db'}")
            store.enqueue([item(n, target) for n in range(N)], now=0.0)
            worker = DeliveryWorker(store, http, concurrency=concurrency)

            def drain(worker: DeliveryWorker = worker, batch: int = concurrency * 4) -> None:
                while worker.run_once(limit=batch):
                    pass

            report(f"run_once, concurrency {concurrency}", timed(drain), baseline)
            store.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        sqlite_bench(Path(folder))
        postgres = os.environ.get("HOOKRELAY_TEST_POSTGRES_URL")
        if postgres:
            postgres_bench(postgres)
        else:
            print("PostgreSQL: skipped (set HOOKRELAY_TEST_POSTGRES_URL)")
        worker_bench(Path(folder))


if __name__ == "__main__":
    main()
