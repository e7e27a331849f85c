"""Reading a request body as a stream, within its limit and within the budget all bodies share.

A declared ``Content-Length`` over the limit is refused before a byte is read; a chunked body is
read chunk by chunk and refused the moment it passes the limit, so an oversized body never sits
whole in memory (at most the limit plus one chunk).

``BodyBudget`` bounds the bytes of all the bodies being read and worked on at once (the
``body_budget_bytes`` setting). A request first takes its share, its declared length, or the
body limit when it declares none (chunked), and gives it back when it has been answered; a
request whose share is not free waits for it with its body unread, which uvicorn leaves in the
socket (flow control), so twenty 25 MB pushes arriving together are held a few at a time instead
of all at once. A share larger than the whole budget is cut to the budget: such a request waits
until it is alone, and is then let through.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.requests import ClientDisconnect, Request

from hookrelay.exceptions import BodyTooLarge, PayloadError

T = TypeVar("T")

__all__ = ["BodyBudget", "OffLoop", "budgeted_body", "declared_length", "read_limited_body"]


def declared_length(request: Request, limit: int) -> int | None:
    """The body's declared ``Content-Length``; ``BodyTooLarge`` over ``limit``, None if none."""
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    if not declared.strip().isdigit():
        raise PayloadError("Content-Length is not a number")
    length = int(declared)
    if length > limit:
        raise BodyTooLarge(f"body of {length} bytes is over the {limit}-byte limit")
    return length


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The request's body, or ``BodyTooLarge`` once it is over ``limit`` bytes."""
    declared_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"body is over the {limit}-byte limit")
            chunks.append(chunk)
    except ClientDisconnect:
        # Closed by the client, or by the server for stalling (hookrelay.web.connections).
        raise PayloadError("the connection closed before the body ended") from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class budgeted_body:  # noqa: N801 - used as a function: async with budgeted_body(...) as body
    """The body, read up to ``limit`` bytes within its share of ``budget``, which is held
    until the block ends (the request is answered).

    A class rather than two nested generator-based context managers: every request passes
    through here, and those were a twentieth of the receiver's CPU per push.
    """

    __slots__ = ("_budget", "_limit", "_request", "_share")

    def __init__(self, request: Request, limit: int, budget: BodyBudget) -> None:
        """Read ``request``'s body within ``limit`` and ``budget``."""
        self._request = request
        self._limit = limit
        self._budget = budget
        self._share = 0

    async def __aenter__(self) -> bytes:
        """Take the share (waiting for it if need be), then read the body."""
        declared = declared_length(self._request, self._limit)
        size = self._budget.size_of(self._limit if declared is None else declared)
        await self._budget.take(size)
        self._share = size
        try:
            return await read_limited_body(self._request, self._limit)
        except BaseException:
            self._budget.give_back(size)
            self._share = 0
            raise

    async def __aexit__(self, *exc: object) -> None:
        """Give the share back."""
        self._budget.give_back(self._share)
        self._share = 0


class BodyBudget:
    """Bytes of request bodies the process holds at once, shared by every request.

    Waiters are served in arrival order among those whose share fits: a small push is not held
    behind a big one that is waiting for room. Everything runs on the event loop's thread, so
    the counts need no lock; giving a share back never awaits, so a cancelled request (its
    client gone) always gives it back.
    """

    def __init__(self, total: int) -> None:
        """A budget of ``total`` bytes, all free."""
        self.total = total
        self._free = total
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def free(self) -> int:
        """Bytes not taken by any request now."""
        return self._free

    @asynccontextmanager
    async def share(self, size: int) -> AsyncIterator[None]:
        """Hold ``size`` bytes of the budget (at most the whole) while the block runs."""
        size = self.size_of(size)
        await self.take(size)
        try:
            yield
        finally:
            self.give_back(size)

    def size_of(self, size: int) -> int:
        """The share a request of ``size`` bytes takes: at most the whole budget."""
        return max(0, min(size, self.total))

    async def take(self, size: int) -> None:
        """Take ``size`` bytes (``size_of``), waiting until they are free; ``give_back`` them."""
        if self._free >= size:
            self._free -= size
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (size, granted)
        self._waiting.append(entry)
        try:
            await granted
        except asyncio.CancelledError:
            if entry in self._waiting:
                self._waiting.remove(entry)
            elif granted.done() and not granted.cancelled():
                self.give_back(size)  # granted just as it was cancelled
            raise

    def give_back(self, size: int) -> None:
        """Return ``size`` bytes taken with ``take``, and let in the waiters they fit."""
        self._free += size
        if not self._waiting:
            return
        for entry in list(self._waiting):
            wanted, granted = entry
            if wanted <= self._free:
                self._waiting.remove(entry)
                self._free -= wanted
                granted.set_result(None)


class OffLoop:
    """Work on request bodies in worker threads, big bodies ``big_at_once`` at a time.

    Verifying, decoding and planning a push is CPU work that holds Python's GIL; run on the
    event loop it would stall every other request, and twenty big ones in twenty threads
    would still starve the loop of the GIL. Bodies over ``big`` bytes take turns in a lane of
    their own; small ones never wait behind them. A small one whose request is cancelled
    (client gone) finishes its work in the background; a big one holds its request, and so
    its share of the body budget, until its work is done.
    """

    def __init__(self, *, big: int, big_at_once: int = 1, small_at_once: int = 32) -> None:
        """Bodies over ``big`` bytes are worked on ``big_at_once`` at a time, smaller ones
        ``small_at_once`` at a time."""
        self.big = big
        self._big_at_once = big_at_once
        self._big_lane: CapacityLimiter | None = None
        # A plain executor for the many small ones: anyio's thread hop (cancel scope, limiter)
        # was a tenth of the receiver's CPU per push.
        self._small_lane = ThreadPoolExecutor(small_at_once, thread_name_prefix="hookrelay-web")

    async def run(self, size: int, work: Callable[..., T], *args: object) -> T:
        """``work(*args)`` in a worker thread, for a body of ``size`` bytes."""
        if size <= self.big:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._small_lane, functools.partial(work, *args))
        if self._big_lane is None:
            # Made on first use, inside the server's event loop.
            self._big_lane = CapacityLimiter(self._big_at_once)
        return await anyio.to_thread.run_sync(work, *args, limiter=self._big_lane)
