"""Recording attempt results as they arrive, many in one durable transaction.

Each posting thread records its own result before it takes the next commit, so a crash can
post again at most the commits in flight (one per thread). Waiting for a transaction of its own
would cost each commit a disk flush, so threads share them: a thread that finds no write under
way writes everything waiting (its own result included), and the threads that arrived
meanwhile wait for that write, or lead the next one. This is the group commit of databases.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from hookrelay.exceptions import StoreError
from hookrelay.queue.store import AttemptResult, QueueStore

__all__ = ["GroupCommit"]


@dataclass(slots=True)
class _Waiting:
    result: AttemptResult
    recorded: bool | None = None
    error: StoreError | None = None


class GroupCommit:
    """Records ``AttemptResult``s for several threads, in as few transactions as they allow."""

    def __init__(self, store: QueueStore, clock: Callable[[], float]) -> None:
        """Record into ``store``, each write stamped with ``clock()`` (seconds since the epoch)."""
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: list[_Waiting] = []
        self._writing = False

    def record(self, result: AttemptResult) -> bool:
        """Record ``result`` durably; False if its lease was lost (another worker has it).

        Raises ``StoreError`` if the transaction that carried it failed.
        """
        mine = _Waiting(result)
        with self._changed:
            self._queue.append(mine)
            while mine.recorded is None and mine.error is None:
                if self._writing:
                    self._changed.wait()
                    continue
                self._writing = True
                group, self._queue = self._queue, []
                self._lock.release()
                try:
                    self._write(group)
                finally:
                    self._lock.acquire()
                    self._writing = False
                    self._changed.notify_all()
        if mine.error is not None:
            raise mine.error
        return bool(mine.recorded)

    def _write(self, group: list[_Waiting]) -> None:
        try:
            recorded = self._store.record([w.result for w in group], now=self._clock())
        except StoreError as exc:
            for waiting in group:
                waiting.error = exc
            return
        for waiting, done in zip(group, recorded, strict=True):
            waiting.recorded = done
