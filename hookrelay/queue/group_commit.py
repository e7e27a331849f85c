"""Group commit: requests queueing at the same moment share one durable transaction.

Every ``enqueue`` is durable on return, and a durable write costs a disk flush (SQLite's WAL
``fsync``, PostgreSQL's commit); paid once per request, the flush bounds how many pushes a
second the receiver can acknowledge. ``GroupCommit`` lets the requests that arrive while a
write is under way wait for the next one, which writes all of them in one transaction
(``QueueStore.enqueue_groups``), so 32 clients pay a flush per group rather than per push.

There is no writer thread: the first caller to find no write under way writes (the *leader*),
taking the oldest waiting groups up to ``max_rows`` rows, then the next batch until its own
group is written; it then steps down and a waiting caller takes over. Each caller still returns
only once its own commits are on disk, with its own counts. If a shared transaction fails, each
of its groups is written again on its own, so one bad request cannot fail its neighbours.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from hookrelay.queue.store import EnqueueResult, NewDelivery, QueueStore

__all__ = ["GroupCommit"]


@dataclass(slots=True)
class _Group:
    items: Sequence[NewDelivery]
    now: float
    result: EnqueueResult | None = None
    error: BaseException | None = None
    done: bool = False
    leads: bool = False
    # Set when the group is written or its caller is to lead: only that caller wakes.
    wake: threading.Event = field(default_factory=threading.Event)

    def outcome(self) -> EnqueueResult:
        if self.error is not None:
            raise self.error
        assert self.result is not None  # noqa: S101 - set with done
        return self.result


class GroupCommit:
    """A store's ``enqueue``, with concurrent callers sharing transactions."""

    def __init__(self, store: QueueStore, *, max_rows: int = 2000) -> None:
        """Write through ``store``, at most ``max_rows`` rows a transaction (at least a group)."""
        self._store = store
        self._max_rows = max_rows
        self._lock = threading.Lock()
        self._waiting: deque[_Group] = deque()
        self._writing = False

    def enqueue(self, items: Sequence[NewDelivery], *, now: float) -> EnqueueResult:
        """Queue ``items``; durable on return, as ``QueueStore.enqueue``."""
        group = _Group(items, now)
        with self._lock:
            self._waiting.append(group)
            if not self._writing:
                self._writing = group.leads = True
        if not group.leads:
            group.wake.wait()
            if group.done:
                return group.outcome()
        try:
            while not group.done:
                with self._lock:
                    batch = self._take()
                self._write(batch)
                for written in batch:
                    written.done = True
                    if written is not group:
                        written.wake.set()
        finally:
            with self._lock:
                # Hand the lead to the oldest caller still waiting, or leave it free.
                if self._waiting:
                    self._waiting[0].leads = True
                    self._waiting[0].wake.set()
                else:
                    self._writing = False
        return group.outcome()

    def _take(self) -> list[_Group]:
        batch = [self._waiting.popleft()]
        rows = len(batch[0].items)
        while self._waiting and rows + len(self._waiting[0].items) <= self._max_rows:
            rows += len(self._waiting[0].items)
            batch.append(self._waiting.popleft())
        return batch

    def _write(self, batch: list[_Group]) -> None:
        now = max(group.now for group in batch)
        try:
            results = self._store.enqueue_groups([group.items for group in batch], now=now)
        except Exception as exc:  # noqa: BLE001 - handed to the caller whose group it was
            if len(batch) == 1:
                batch[0].error = exc
                return
            for group in batch:
                self._write([group])
            return
        for group, result in zip(batch, results, strict=True):
            group.result = result
