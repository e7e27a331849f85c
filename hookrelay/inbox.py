"""The inbox: pushes the receiver accepted while busy, expanded into deliveries in batches.

Planning a push is most of the receiver's cost: rendering twenty ``source_commit`` bodies and
inserting twenty rows costs several times what reading and checking the push does. So a push
that arrives while other requests are in flight is checked as always (signature, shape, commit
ids, token) and counted (what it will relay, what it skips and why), then kept whole in the
inbox: one row, in a durable write shared with the pushes arriving beside it (group commit).
It is answered 202 once that row is on disk, with ``accepted`` (the commits it will relay,
those already queued being relayed once). A push that arrives when the receiver is idle is
planned and queued at once, as before, and its answer also says ``queued`` and
``duplicates``.

The ``Expander`` (a thread of ``serve`` and ``worker``) takes the inbox's pushes oldest first,
a batch at a time, plans each with the settings of the day (``plan_push``), and queues their
deliveries and deletes them from the inbox in one transaction (``QueueStore.expand``), so a
push is expanded once even with several replicas, and a crash between the two leaves it in the
inbox to expand again. In ``serve`` it gives way to the receiver: while requests are in flight
it waits, for ``max_wait`` seconds at most a batch, unless the inbox holds ``high_water`` of
this process's pushes, so a burst is answered at the receiver's full speed and expanded as
soon as it ends (and at least a batch every ``max_wait`` seconds under load that never ends).

A push whose plan fails at expansion (its route's token was removed since it was accepted)
stays in the inbox with an error in the log, and is tried again by the next process that
starts.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hookrelay.core.routing import NewDelivery, Routing, SkipReason, plan_push
from hookrelay.core.webhook_body import BIG_BODY_BYTES
from hookrelay.core.webhooks import Push, decode_push
from hookrelay.exceptions import HookrelayError, StoreError
from hookrelay.metrics import RelayMetrics
from hookrelay.queue.store import EnqueueResult, InboxPush, QueueStore

__all__ = ["Expander", "Inbox"]

log = logging.getLogger("hookrelay.inbox")

BATCH = 64
"""Pushes expanded in one transaction."""
GROUP = 256
"""Pushes kept in one transaction at most."""
HIGH_WATER = 10_000
"""Pushes of this process waiting in the inbox past which the expander no longer gives way."""
_LOOK_AGAIN = 0.05  # seconds between two looks at a busy receiver
QUIET = 0.1
"""Seconds without a request after which the receiver counts as idle."""
MAX_WAIT = 5.0
"""Seconds the expander gives way to a busy receiver before it expands a batch anyway."""


class Inbox:
    """The receiver's side: requests in flight, and pushes kept and not yet expanded.

    Everything but ``wake`` and the counts the expander reads (plain integers: a stale read
    only delays it by one check) belongs to the event loop's thread. ``keep`` writes the pushes
    kept at the same moment in one transaction (group commit), from one writer thread: a
    request waits for its own write without a thread of its own.
    """

    def __init__(self, store: QueueStore, *, clock: Callable[[], float]) -> None:
        """No request in flight, nothing kept; pushes are kept in ``store``."""
        self.in_flight = 0
        self.last_request = 0.0
        self.kept = 0
        self.wake = threading.Event()
        self._store = store
        self._clock = clock
        self._waiting: list[tuple[InboxPush, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="hookrelay-inbox-writer")

    def enter(self) -> None:
        """A webhook request began."""
        self.in_flight += 1
        self.last_request = time.monotonic()

    def leave(self) -> None:
        """A webhook request ended; the expander wakes when the receiver falls idle."""
        self.in_flight -= 1
        if self.in_flight == 0 and self.kept:
            self.wake.set()

    def should_keep(self, body_bytes: int) -> bool:
        """Whether a push being handled now is kept in the inbox rather than planned at once:
        other requests are in flight, and its body is not big (a big one is planned in pieces
        in a lane of its own, ``hookrelay.web.body.OffLoop``)."""
        return self.in_flight > 1 and body_bytes <= BIG_BODY_BYTES

    def busy(self) -> bool:
        """Whether the receiver has requests in flight, or had one in the last ``QUIET``
        seconds (under load there are instants with none in flight, between two requests)."""
        return self.in_flight > 0 or time.monotonic() - self.last_request < QUIET

    async def keep(self, push: InboxPush) -> None:
        """Keep ``push`` in the inbox; durable on return (``StoreError`` if it could not be)."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((push, done))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_waiting())
        # Counted before the write: the push can be on disk (and seen by the expander) before
        # this request runs again, and the expander must give way to the receiver meanwhile.
        self.kept += 1
        try:
            await done
        except BaseException:
            self.kept -= 1
            raise

    async def _write_waiting(self) -> None:
        """Write what waits, up to ``GROUP`` pushes a transaction, until nothing does."""
        while self._waiting:
            group, self._waiting = self._waiting[:GROUP], self._waiting[GROUP:]
            await self._write(group)

    async def _write(self, group: list[tuple[InboxPush, asyncio.Future[None]]]) -> None:
        loop = asyncio.get_running_loop()
        pushes = [push for push, _ in group]
        work = functools.partial(self._store.accept, pushes, now=self._clock())
        try:
            await loop.run_in_executor(self._writer, work)
        except Exception as exc:  # noqa: BLE001 - handed to the request whose push it was
            if len(group) == 1:
                if not group[0][1].done():
                    group[0][1].set_exception(exc)
                return
            for one in group:  # one bad push must not fail its neighbours
                await self._write([one])
            return
        for _, done in group:
            if not done.done():
                done.set_result(None)


@dataclass(frozen=True, slots=True)
class _Planned:
    push: Push
    deliveries: Sequence[NewDelivery]
    skipped: int


class Expander:
    """Expands the inbox's pushes into deliveries, a batch at a time."""

    def __init__(
        self,
        store: QueueStore,
        routing: Routing,
        *,
        clock: Callable[[], float],
        metrics: RelayMetrics | None = None,
        inbox: Inbox | None = None,
        batch: int = BATCH,
        high_water: int = HIGH_WATER,
        max_wait: float = MAX_WAIT,
    ) -> None:
        """Expand from ``store`` with ``routing``; give way to ``inbox``'s requests, if any."""
        self._store = store
        self._routing = routing
        self._clock = clock
        self._metrics = metrics
        self._inbox = inbox
        self._batch = batch
        self._high_water = high_water
        self._max_wait = max_wait
        self._failed: set[int] = set()

    def run(self, stop: threading.Event, *, poll_interval: float = 1.0) -> None:
        """Expand until ``stop`` is set: at once when the receiver keeps a push and falls idle,
        and every ``poll_interval`` seconds for pushes other processes kept."""
        wake = self._inbox.wake if self._inbox is not None else stop
        while not stop.is_set():
            wake.clear()  # before looking: a push kept meanwhile sets it again
            failure = None
            try:
                expanded = self.expand_once(stop)
            except StoreError as exc:
                failure, expanded = exc, 0
            if failure is not None:
                log.error("the inbox could not be expanded: %s", failure)
            if not expanded:
                wake.wait(poll_interval)

    def expand_once(self, stop: threading.Event | None = None) -> int:
        """Expand one batch (after giving way to the receiver); how many pushes it took."""
        if self._inbox is not None and self._inbox.kept:
            self._give_way(stop)
        pushes = self._store.inbox(limit=self._batch + len(self._failed))
        pushes = [push for push in pushes if push.id not in self._failed][: self._batch]
        if not pushes:
            return 0
        planned = [(kept, self._plan(kept)) for kept in pushes]
        expanded = [(kept, plan) for kept, plan in planned if plan is not None]
        now = self._clock()
        results = self._store.expand(
            [(kept.id, plan.deliveries) for kept, plan in expanded], now=now
        )
        taken = 0
        for (kept, plan), result in zip(expanded, results, strict=True):
            if result is None:
                continue  # another process expanded it
            taken += 1
            self._report(kept, plan, result, now)
        if self._inbox is not None:
            self._inbox.kept = max(0, self._inbox.kept - taken)
        return len(pushes)

    def _report(self, kept: InboxPush, plan: _Planned, result: EnqueueResult, now: float) -> None:
        """One line per push, as the receiver writes for a push it queues at once."""
        if self._metrics is not None:
            self._metrics.queued.inc(result.queued)
            if result.duplicates:
                duplicate = SkipReason.DUPLICATE.value
                self._metrics.skipped.labels(reason=duplicate).inc(result.duplicates)
        log.info(
            "push to %s %s: %d queued, %d already queued, %d skipped (kept %.1f s in the inbox)",
            plan.push.repository or "?",
            plan.push.ref,
            result.queued,
            result.duplicates,
            plan.skipped,
            max(0.0, now - kept.received_at),
            extra={"forge": plan.push.forge, "delivery": plan.push.delivery_id or "-"},
        )

    def _give_way(self, stop: threading.Event | None) -> None:
        """Wait while the receiver is busy, for at most ``max_wait`` seconds, unless the
        inbox holds ``high_water`` pushes of this process."""
        inbox = self._inbox
        if inbox is None:
            return
        pause = stop if stop is not None else threading.Event()
        deadline = time.monotonic() + self._max_wait
        while inbox.busy() and inbox.kept < self._high_water and time.monotonic() < deadline:
            if pause.wait(_LOOK_AGAIN):
                return

    def _plan(self, push: InboxPush) -> _Planned | None:
        """The deliveries of a kept push, or None (logged) when it cannot be planned now."""
        try:
            event = decode_push(push.push)
            plan = plan_push(event, self._routing, token=push.token)
            return _Planned(event, plan.deliveries, sum(plan.skipped.values()))
        except HookrelayError as exc:
            failure = exc
        self._failed.add(push.id)
        log.error(
            "inbox: push %d could not be expanded and stays in the inbox: %s",
            push.id,
            failure,
            extra={"event": "not_expanded"},
        )
        return None
