"""Group commit of the posting threads' outcomes (``hookrelay.delivery.recording``)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from hookrelay.delivery.recording import GroupRecorder
from hookrelay.exceptions import StoreError
from hookrelay.queue import Delivery, QueueStore, State
from hookrelay.queue.store import AttemptResult
from tests.delivery.conftest import queue_commit
from tests.support.waiting import wait_until

NOW = 1_000_000.0


class _HeldStore:
    """A real store whose first ``record`` waits until the test lets it go; it keeps the ids
    each ``record`` was given, and can fail on demand."""

    def __init__(self, store: QueueStore) -> None:
        self._store = store
        self.release_first = threading.Event()
        self.writing = threading.Event()
        self.calls: list[list[int]] = []
        self.fail = False

    def record(self, results: Sequence[AttemptResult], *, now: float) -> list[bool]:
        self.calls.append([result.delivery.id for result in results])
        if len(self.calls) == 1:
            self.writing.set()
            assert self.release_first.wait(10)
        if self.fail:
            raise StoreError("the disk is full")
        return self._store.record(results, now=now)

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def _leased(store: QueueStore, count: int) -> list[Delivery]:
    for number in range(count):
        queue_commit(store, "http://127.0.0.1:9/services/v5", number, now=NOW)
    return store.lease(now=NOW, limit=count, lease_seconds=60)


def _in_threads(
    recorder: GroupRecorder, results: list[AttemptResult]
) -> tuple[list[threading.Thread], dict[int, object]]:
    answers: dict[int, object] = {}

    def record(result: AttemptResult) -> None:
        try:
            answers[result.delivery.id] = recorder.record(result, now=NOW + 1)
        except StoreError as exc:
            answers[result.delivery.id] = exc

    threads = [threading.Thread(target=record, args=(result,)) for result in results]
    for thread in threads:
        thread.start()
    return threads, answers


def test_outcomes_that_wait_together_are_written_together(store: QueueStore) -> None:
    """Outcomes arriving while a write runs wait for it, then go in one write, and each
    thread returns once its own outcome is recorded."""
    first, *others = _leased(store, 4)
    held = _HeldStore(store)
    recorder = GroupRecorder(held)  # type: ignore[arg-type]
    leader, answers = _in_threads(recorder, [AttemptResult(first, State.DELIVERED)])
    assert held.writing.wait(10)
    followers, more = _in_threads(recorder, [AttemptResult(d, State.DELIVERED) for d in others])
    wait_until(lambda: recorder.waiting == 3, 10, "three outcomes waiting")
    assert answers == {}
    assert more == {}
    held.release_first.set()
    for thread in leader + followers:
        thread.join(10)
    assert held.calls[0] == [first.id]
    assert sorted(held.calls[1]) == sorted(d.id for d in others)
    assert len(held.calls) == 2
    assert {**answers, **more} == {d.id: True for d in [first, *others]}
    assert {d.state for d in store.list()} == {State.DELIVERED}
    assert [a.outcome for d in store.list() for a in store.attempts(d.id)] == [State.DELIVERED] * 4


def test_a_lost_lease_is_false_for_that_outcome_only(store: QueueStore) -> None:
    """In a group, an outcome whose lease was taken over is False; the others are written."""
    taken, kept = _leased(store, 2)
    store.release(taken, now=NOW)  # another worker's now, in effect: the lease is gone
    recorder = GroupRecorder(store)
    assert recorder.record(AttemptResult(taken, State.DELIVERED), now=NOW) is False
    assert recorder.record(AttemptResult(kept, State.DELIVERED), now=NOW) is True
    assert store.get(taken.id).state is State.PENDING  # type: ignore[union-attr]
    assert store.get(kept.id).state is State.DELIVERED  # type: ignore[union-attr]


def test_a_store_error_is_raised_in_every_thread_of_the_group(store: QueueStore) -> None:
    """When a group's write fails, each of its threads gets the store's error, and the next
    outcome is written by a new write."""
    first, second, third, last = _leased(store, 4)
    held = _HeldStore(store)
    held.fail = True
    recorder = GroupRecorder(held)  # type: ignore[arg-type]
    leader, answers = _in_threads(recorder, [AttemptResult(first, State.DELIVERED)])
    assert held.writing.wait(10)
    followers, more = _in_threads(
        recorder, [AttemptResult(d, State.DELIVERED) for d in (second, third)]
    )
    wait_until(lambda: recorder.waiting == 2, 10, "two outcomes waiting")
    held.release_first.set()
    for thread in leader + followers:
        thread.join(10)
    assert all(isinstance(answer, StoreError) for answer in [*answers.values(), *more.values()])
    assert len({**answers, **more}) == 3
    held.fail = False
    assert recorder.record(AttemptResult(last, State.DELIVERED), now=NOW) is True
    assert recorder.waiting == 0
