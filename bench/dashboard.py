"""How heavy and how fast the dashboard is with 10,000 deliveries queued, against ``/healthz``.

A real receiver (uvicorn on loopback) over a SQLite queue holding 10,000 deliveries from 50
repositories and 3 Tracker targets, in every state, with an attempt each. Measured over HTTP
with a signed-in session: the overview, a page of the delivery list (50 rows), the list with a
filter (state and repository), the last page (paging), and one delivery's page; each as the
median of several requests, and each page's weight (HTML plus the stylesheet and script it
loads, uncompressed). Baseline, same run: ``GET /healthz``.

Run: .venv/bin/python bench/dashboard.py   (PostgreSQL too if HOOKRELAY_TEST_POSTGRES_URL)
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parents[1]))

from hookrelay.core.tracker_api import token_fingerprint
from hookrelay.queue import NewDelivery, QueueStore, open_store
from hookrelay.queue.store import DeliveryFilter
from hookrelay.settings import Settings
from hookrelay.web import create_app
from tests.web.server import running_app

TOTAL = 10_000
REPEAT = 15
ADMIN = "bench-admin-token"
TOKEN = "0123456789abcdef0123456789abcdef"  # noqa: S105 - a made-up token
LIST = "/dashboard/deliveries"
TARGETS = [f"http://127.0.0.1:{9 + n}/services/v5" for n in range(3)]


def fill(store: QueueStore, now: float) -> None:
    """10,000 deliveries over the last two hours: delivered, dead, waiting and pending."""
    items = []
    for number in range(TOTAL):
        target = TARGETS[number % 3]
        commit = f"{number:040x}"
        message = f"[Finishes #{100000 + number % 500}] change number {number}"
        body = json.dumps(
            {"source_commit": {"commit_id": commit, "message": message, "author": "Ada"}}
        ).encode()
        items.append(
            NewDelivery(
                dedupe_key=f"{target} {token_fingerprint(TOKEN)} {commit}",
                target_url=target,
                token=TOKEN,
                token_fingerprint=token_fingerprint(TOKEN),
                commit_id=commit,
                body=body,
                repository=f"team{number % 50}/service",
                branch="main",
                summary=message,
                story_ids=(100000 + number % 500,),
            )
        )
    for start in range(0, TOTAL, 1000):
        store.enqueue(items[start : start + 1000], now=now - 7200 + start * 0.5)
    leased = store.lease(now=now - 3600, limit=int(TOTAL * 0.9), lease_seconds=60)
    for index, delivery in enumerate(leased):
        at = now - 3600 + index * 3600 / len(leased)
        if index % 20 == 0:
            store.mark_dead(delivery, now=at, error="HTTP 422: Story not in this project")
        elif index % 20 == 1:
            store.mark_waiting(delivery, now=at, next_attempt_at=now + 60, error="HTTP 503")
        else:
            store.mark_delivered(delivery, now=at)


def median_ms(client: httpx.Client, path: str) -> tuple[float, int]:
    """Median time of REPEAT GETs of ``path``, and the body's size."""
    times = []
    size = 0
    for _ in range(REPEAT):
        start = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - start)
        assert answer.status_code == 200, (path, answer.status_code)
        size = len(answer.content)
    return statistics.median(times) * 1e3, size


def sign_in(client: httpx.Client) -> None:
    """Log in with the form, as a browser would."""
    form = client.get("/dashboard").text
    login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', form)
    assert login_csrf is not None
    answer = client.post(
        "/dashboard/login",
        data={"token": ADMIN, "login_csrf": login_csrf.group(1), "next": "/dashboard"},
    )
    assert answer.status_code == 303


def run(name: str, database_url: str) -> None:
    """Fill the queue behind ``database_url`` and measure each page."""
    settings = Settings.model_validate(
        {"database_url": database_url, "admin_token": ADMIN, "tracker_url": TARGETS[0]}
    )
    store = open_store(database_url)
    now = time.time()
    started = time.perf_counter()
    fill(store, now)
    print(f"{name}: {TOTAL} deliveries queued in {time.perf_counter() - started:.1f} s")
    try:
        with running_app(create_app(settings, store)) as server:
            client = server.client
            sign_in(client)
            assets = sum(
                len(client.get(f"/dashboard/static/{f}").content)
                for f in ("dashboard.css", "dashboard.js")
            )
            baseline, _ = median_ms(client, "/healthz")
            print(f"  {'GET /healthz (baseline)':<44} {baseline:7.2f} ms")
            dead = store.dead_ids()[0]
            oldest = store.find(DeliveryFilter(), limit=1, before_id=60)[0].id
            pages = [
                ("overview", "/dashboard"),
                ("delivery list, newest 50", "/dashboard/deliveries"),
                ("list: dead of one repository", f"{LIST}?state=dead&repository=team0/service"),
                ("list: one story id", f"{LIST}?story=100007"),
                ("list: commit id prefix", f"{LIST}?commit={'0' * 36}26"),
                ("list: the oldest page (paging)", f"/dashboard/deliveries?before={oldest + 1}"),
                ("one delivery with its attempts", f"/dashboard/deliveries/{dead}"),
            ]
            for label, path in pages:
                ms, size = median_ms(client, path)
                print(
                    f"  {label:<44} {ms:7.2f} ms  {ms / baseline:6.1f}x baseline  "
                    f"{size / 1024:6.1f} KiB HTML, {(size + assets) / 1024:6.1f} KiB with CSS+JS"
                )
    finally:
        store.close()


def main() -> None:
    """Measure on SQLite, and on PostgreSQL when a server is given."""
    with tempfile.TemporaryDirectory() as folder:
        run("SQLite", f"sqlite:///{Path(folder) / 'queue.db'}")
    url = os.environ.get("HOOKRELAY_TEST_POSTGRES_URL")
    if url:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(f"CREATE SCHEMA {schema}")
        try:
            run("PostgreSQL", f"{url}?options=-csearch_path%3D{schema}")
        finally:
            with psycopg.connect(url, autocommit=True) as db:
                db.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
