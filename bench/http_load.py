"""HTTP on loopback for the benchmarks, cheap enough not to be what is measured.

``load()`` drives a server with N keep-alive clients on raw asyncio sockets for a fixed time and
returns the throughput and every request's latency: a Python HTTP client library would spend
more CPU per request than the server it measures, on the same two cores.

``python bench/http_load.py standin`` runs a Tracker stand-in on a free loopback port (printed
on stdout as ``listening PORT``): every POST gets 200 (``{}`` or ``<source_commit/>``) after the
current delay; ``GET /count`` answers how many POSTs arrived (not counting those under
``/baseline/``), ``GET /reset`` zeroes it, and ``GET /delay?seconds=S`` sets the delay (a
distant Tracker's round trip).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit


@dataclass
class LoadResult:
    """What one timed window of load gave."""

    requests: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        """Answered requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 response; return its status and whether the server closes."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    headers = head.lower()
    closes = b"\r\nconnection: close" in headers
    if b"\r\ntransfer-encoding: chunked" in headers:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        at = headers.find(b"\r\ncontent-length:")
        if at >= 0:
            length = int(headers[at + 17 : headers.index(b"\r\n", at + 2)])
            await reader.readexactly(length)
    return status, closes


async def _load(
    host: str, port: int, make_request: Callable[[], bytes], clients: int, seconds: float
) -> LoadResult:
    result = LoadResult(0, 0.0)
    go = asyncio.Event()
    warm: list[None] = []
    window: dict[str, float] = {}

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            writer.write(make_request())  # one untimed request: connection and code paths warm
            status, closes = await _read_answer(reader)
            warm.append(None)
            await go.wait()
            while time.perf_counter() < window["end"]:
                if closes:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                request = make_request()
                started = time.perf_counter()
                writer.write(request)
                status, closes = await _read_answer(reader)
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] += 1
        finally:
            writer.close()

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    deadline = time.perf_counter() + 60
    while len(warm) < clients and not any(t.done() for t in tasks):
        if time.perf_counter() > deadline:
            raise TimeoutError("the clients' first requests were not answered within 60 s")
        await asyncio.sleep(0.005)
    window["start"] = time.perf_counter()
    window["end"] = window["start"] + seconds
    go.set()
    await asyncio.gather(*tasks)  # a client that failed raises here
    result.seconds = time.perf_counter() - window["start"]
    result.requests = len(result.latencies)
    return result


def load(
    url: str, make_request: Callable[[], bytes], *, clients: int, seconds: float
) -> LoadResult:
    """Drive ``url``'s server with ``clients`` keep-alive connections for ``seconds``."""
    parts = urlsplit(url)
    return asyncio.run(
        _load(parts.hostname or "127.0.0.1", parts.port or 80, make_request, clients, seconds)
    )


def post_request(url: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes of one HTTP/1.1 POST of ``body`` to ``path`` on ``url``'s server."""
    host = urlsplit(url).netloc
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# --- the Tracker stand-in --------------------------------------------------------------------


class _StandIn:
    def __init__(self) -> None:
        self.posts = 0
        self.delay = 0.0
        self.waiters: list[tuple[int, asyncio.Future[None]]] = []

    async def wait_for(self, wanted: int, seconds: float) -> None:
        """Return once ``wanted`` POSTs were counted, or after ``seconds``: a long poll, so a
        benchmark waiting for the last post does not load the stand-in and the machine."""
        if self.posts >= wanted:
            return
        arrived = asyncio.get_running_loop().create_future()
        self.waiters.append((wanted, arrived))
        try:
            await asyncio.wait_for(arrived, seconds)
        except TimeoutError:
            self.waiters = [w for w in self.waiters if w[1] is not arrived]

    def _counted(self) -> None:
        self.posts += 1
        if self.waiters and any(self.posts >= wanted for wanted, _ in self.waiters):
            for wanted, arrived in self.waiters:
                if self.posts >= wanted and not arrived.done():
                    arrived.set_result(None)
            self.waiters = [w for w in self.waiters if not w[1].done()]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target = head.split(b" ", 2)[:2]
                lower = head.lower()
                at = lower.find(b"\r\ncontent-length:")
                if at >= 0:
                    await reader.readexactly(int(lower[at + 17 : lower.index(b"\r\n", at + 2)]))
                if target.startswith(b"/wait?"):
                    query = parse_qs(urlsplit(target.decode("latin-1")).query)
                    await self.wait_for(int(query["count"][0]), float(query["seconds"][0]))
                body, kind = self.answer(method, target.decode("latin-1"))
                if self.delay and method == b"POST":
                    await asyncio.sleep(self.delay)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
                    % (kind, len(body), body)
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def answer(self, method: bytes, target: str) -> tuple[bytes, bytes]:
        parts = urlsplit(target)
        if method == b"POST":
            if not parts.path.startswith("/baseline/"):  # a baseline's posts are not counted
                self._counted()
            if "/v3/" in parts.path:
                return b"<source_commit/>", b"application/xml"
            return b"{}", b"application/json"
        if parts.path == "/reset":
            self.posts = 0
        elif parts.path == "/delay":
            self.delay = float(parse_qs(parts.query)["seconds"][0])
        return str(self.posts).encode(), b"text/plain"


async def _stand_in(port: int) -> None:
    stand_in = _StandIn()
    server = await asyncio.start_server(stand_in.serve, "127.0.0.1", port, backlog=1024)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    """``standin [--port N]``: run the Tracker stand-in until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["standin"])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_stand_in(args.port))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
