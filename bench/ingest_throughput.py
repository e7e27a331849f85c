"""Ingest throughput: signed 20-commit pushes from 32 clients, ours against a bare endpoint.

Ours: a real ``hookrelay serve`` (its workers posting to a Tracker that never answers, so they
stay out of the way). Baseline, in the same run: a bare FastAPI app under uvicorn whose
``POST /github`` reads the body, checks its HMAC and answers 202. Both in their own process;
the load comes from one asyncio client over 32 keep-alive connections with prebuilt requests.
Rounds alternate baseline and ours; medians are printed. Goal (issue 9): ours >= 0.5x the
baseline with p99 < 100 ms on SQLite, >= 0.3x on PostgreSQL.

Run: .venv/bin/python bench/ingest_throughput.py [--postgres URL] [--requests N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.e2e.process import hookrelay_serve
from tests.reliability.pressure import SECRET, TOKEN, big_push, signed, silent_tracker

CLIENTS = 32
COMMITS = 20

BARE_APP = f"""
import hashlib, hmac, sys
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

app = FastAPI()
SECRET = {SECRET!r}.encode()

@app.post("/github")
async def github(request: Request):
    body = await request.body()
    given = request.headers.get("x-hub-signature-256", "").removeprefix("sha256=")
    if not hmac.compare_digest(hmac.new(SECRET, body, hashlib.sha256).hexdigest(), given):
        raise HTTPException(401, "bad signature")
    return JSONResponse({{"queued": 20}}, status_code=202)

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def bare_endpoint() -> Iterator[str]:
    """The baseline server, in a process of its own."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/docs", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.kill()
        process.wait()


@contextmanager
def relay(database_url: str) -> Iterator[str]:
    """``hookrelay serve`` on a fresh queue, in a process of its own."""
    with silent_tracker() as tracker_url:
        env = {
            "HOOKRELAY_DATABASE_URL": database_url,
            "HOOKRELAY_TRACKER_URL": tracker_url,
            "HOOKRELAY_TRACKER_TOKEN": TOKEN,
            "HOOKRELAY_GITHUB_SECRET": SECRET,
        }
        with hookrelay_serve(env) as serve:
            yield serve.url


_serial = iter(range(1, 1 << 30))


def requests(count: int) -> list[bytes]:
    """``count`` distinct signed 20-commit pushes as raw HTTP/1.1 requests."""
    prepared = []
    for _ in range(count):
        body = big_push(next(_serial), COMMITS, 300)
        head = [b"POST /github HTTP/1.1", b"Host: relay"]
        head += [f"{k}: {v}".encode() for k, v in signed(body).items()]
        head.append(f"Content-Length: {len(body)}".encode())
        prepared.append(b"\r\n".join(head) + b"\r\n\r\n" + body)
    return prepared


async def _client(
    url: str, work: list[bytes], latencies: list[float], statuses: dict[int, int]
) -> None:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        while work:
            request = work.pop()
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


def load(url: str, prepared: list[bytes]) -> tuple[float, float]:
    """Pushes a second and p99 latency (s) for ``prepared`` sent over 32 connections."""
    work = list(prepared)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def run() -> None:
        await asyncio.gather(*(_client(url, work, latencies, statuses) for _ in range(CLIENTS)))

    start = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - start
    assert statuses == {202: len(prepared)}, statuses
    return len(prepared) / elapsed, statistics.quantiles(latencies, n=100)[98]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="postgresql:// URL (a fresh schema is used)")
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ours, base, p99s = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            prepared = requests(args.requests)
            with bare_endpoint() as url:
                load(url, prepared[:100])
                rate, _ = load(url, prepared)
                base.append(rate)
            database = (
                _postgres_schema(args.postgres, round_)
                if args.postgres
                else f"sqlite:///{Path(folder) / f'q{round_}.db'}"
            )
            with relay(database) as url:
                load(url, requests(100))
                rate, p99 = load(url, prepared)
                ours.append(rate)
                p99s.append(p99)
            print(
                f"round {round_ + 1}: baseline {base[-1]:.0f}/s, "
                f"ours {ours[-1]:.0f}/s p99 {p99 * 1e3:.0f} ms",
                flush=True,
            )
    ratio = statistics.median(ours) / statistics.median(base)
    print(
        json.dumps(
            {
                "name": "ingest-postgres" if args.postgres else "ingest",
                "ours": statistics.median(ours),
                "baseline": statistics.median(base),
                "ratio": ratio,
                "p99_ms": statistics.median(p99s) * 1e3,
                "unit": "pushes/s",
            }
        )
    )
    return 0


def _postgres_schema(url: str, round_: int) -> str:
    schema = f"bench_ingest_{os.getpid()}_{round_}"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        db.execute(f"CREATE SCHEMA {schema}")
    return f"{url}?options=-csearch_path%3D{schema}"


if __name__ == "__main__":
    raise SystemExit(main())
