"""Recording the posting threads' outcomes together: one write for all that are waiting.

Each posting thread records its outcome before it posts its next commit, so every thread waits
for a write per commit. Written one by one, those writes take turns behind the store's lock (a
transaction each, with its page writes); here the thread that finds no write running writes
every outcome waiting, its own and those that came in meanwhile, in one ``record`` (group
commit), while the others wait until theirs is written. A thread that arrives while a write
runs waits for that write and then the next, as it would have waited behind the store's lock.

Each waiting thread is woken alone (once its outcome is written, or to write the next group),
so a hundred threads do not all wake for every write. A thread learns what happened to its own
outcome: written, lease lost (another worker has the commit), or the store's error, raised in
that thread as if it had written alone.
"""

from __future__ import annotations

import threading

from hookrelay.exceptions import StoreError
from hookrelay.queue.store import AttemptResult, QueueStore

__all__ = ["GroupRecorder"]


class _Waiting:
    """One thread's outcome until it is written, and the lock that thread sleeps on."""

    __slots__ = ("done", "error", "now", "recorded", "result", "wake")

    def __init__(self, result: AttemptResult, now: float) -> None:
        self.result = result
        self.now = now
        self.done = False
        self.recorded = False
        self.error: StoreError | None = None
        self.wake = threading.Lock()
        self.wake.acquire()  # held until another thread releases it to wake this one


class GroupRecorder:
    """Writes the outcomes of several threads with as few ``QueueStore.record`` calls as the
    threads' timing allows; ``record`` returns once the caller's own outcome is written."""

    def __init__(self, store: QueueStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._gathering: list[_Waiting] = []  # outcomes waiting for the next write
        self._writing = False  # a thread is writing, or has been woken to write next

    @property
    def waiting(self) -> int:
        """How many outcomes wait for the next write."""
        with self._lock:
            return len(self._gathering)

    def record(self, result: AttemptResult, *, now: float) -> bool:
        """Write ``result`` (with those of other threads waiting now); False if its lease was
        lost and nothing changed. Raises ``StoreError`` if the store could not write it."""
        mine = _Waiting(result, now)
        with self._lock:
            self._gathering.append(mine)
            leads, self._writing = not self._writing, True
        if not leads:
            mine.wake.acquire()  # until written, or woken to write the next group
        if not mine.done:
            self._write_group()
        if mine.error is not None:
            raise mine.error
        return mine.recorded

    def _write_group(self) -> None:
        """Write every outcome gathered; the caller's own is the first (it was first to wait
        when no write ran, or was woken to write as the first of those who came next)."""
        with self._lock:
            group, self._gathering = self._gathering, []
        try:
            self._write(group)
        finally:
            with self._lock:
                # Whoever waits first writes the next group; nobody writes if none waits.
                following = self._gathering[0] if self._gathering else None
                self._writing = following is not None
            for waiting in group:
                waiting.done = True
            for waiting in group[1:]:  # the first is the writer's own
                waiting.wake.release()
            if following is not None:
                following.wake.release()

    def _write(self, group: list[_Waiting]) -> None:
        # The latest of their times: none is recorded as finished before its thread decided.
        now = max(waiting.now for waiting in group)
        try:
            recorded = self._store.record([waiting.result for waiting in group], now=now)
        except StoreError as exc:
            for waiting in group:
                waiting.error = exc
        except BaseException as exc:
            # A bug: raised in the thread that wrote; the others say they could not record.
            for waiting in group:
                waiting.error = StoreError(f"recording failed: {type(exc).__name__}: {exc}")
            raise
        else:
            for waiting, done in zip(group, recorded, strict=True):
                waiting.recorded = done
