"""Group commit: concurrent enqueues share transactions, each caller with its own answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from hookrelay.exceptions import StoreError
from hookrelay.queue import QueueStore, State
from hookrelay.queue.group_commit import GroupCommit
from hookrelay.queue.store import EnqueueResult, NewDelivery
from tests.queue.test_store_contract import new_delivery

CALLERS = 16


class HeldStore:
    """A real store whose first shared write waits until released, recording every write."""

    def __init__(self, store: QueueStore, *, refuse_commit: str = "") -> None:
        self.store = store
        self.writes: list[list[int]] = []
        self.release = threading.Event()
        self.refuse_commit = refuse_commit

    def enqueue_groups(
        self, groups: Sequence[Sequence[NewDelivery]], *, now: float
    ) -> list[EnqueueResult]:
        """Record the write's group sizes, wait if it is the first, then write for real."""
        self.writes.append([len(group) for group in groups])
        if len(self.writes) == 1:
            assert self.release.wait(10)
        if any(item.commit_id == self.refuse_commit for group in groups for item in group):
            raise StoreError("the queue refused this commit")
        return self.store.enqueue_groups(groups, now=now)


def _run_callers(writer: GroupCommit, groups: list[list[NewDelivery]]) -> list[object]:
    answers: list[object] = [None] * len(groups)

    def call(index: int) -> None:
        try:
            answers[index] = writer.enqueue(groups[index], now=1.0)
        except StoreError as exc:
            answers[index] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(groups))]
    threads[0].start()
    return_when = time.monotonic() + 10
    held: HeldStore = writer._store  # type: ignore[assignment]
    while not held.writes:
        assert time.monotonic() < return_when, "the first write never started"
        time.sleep(0.005)
    for thread in threads[1:]:
        thread.start()
    while len(writer._waiting) < len(groups) - 1:
        assert time.monotonic() < return_when, "the callers never queued"
        time.sleep(0.005)
    held.release.set()
    for thread in threads:
        thread.join(10)
    return answers


def test_callers_waiting_for_a_write_share_the_next_one(store: QueueStore) -> None:
    """Callers arriving during a write are written together in one transaction, each answered
    with its own counts, duplicates across callers included."""
    held = HeldStore(store)
    writer = GroupCommit(held)  # type: ignore[arg-type]
    groups = [[new_delivery(n), new_delivery(100 + n)] for n in range(CALLERS)]
    groups.append([new_delivery(0), new_delivery(999)])  # commit 0 again, from another caller
    answers = _run_callers(writer, groups)
    assert held.writes == [[2], [2] * CALLERS]
    assert answers[:CALLERS] == [EnqueueResult(queued=2, duplicates=0)] * CALLERS
    assert answers[CALLERS] == EnqueueResult(queued=1, duplicates=1)
    assert store.counts()[State.PENDING] == 2 * CALLERS + 1


def test_a_failing_caller_does_not_fail_the_callers_written_with_it(store: QueueStore) -> None:
    """When a shared write fails, each group is written alone: only its own caller gets the error."""
    held = HeldStore(store, refuse_commit=f"{5:040x}")
    writer = GroupCommit(held)  # type: ignore[arg-type]
    groups = [[new_delivery(n)] for n in range(8)]
    answers = _run_callers(writer, groups)
    assert isinstance(answers[5], StoreError)
    assert [a for i, a in enumerate(answers) if i != 5] == [EnqueueResult(1, 0)] * 7
    assert store.counts()[State.PENDING] == 7


@pytest.mark.parametrize("max_rows", [1, 3, 2000], ids=["row-each", "a-few", "default"])
def test_a_write_holds_at_most_max_rows_but_always_one_group(
    store: QueueStore, max_rows: int
) -> None:
    """No write takes more than max_rows rows, except one group that is bigger on its own."""
    held = HeldStore(store)
    writer = GroupCommit(held, max_rows=max_rows)  # type: ignore[arg-type]
    groups = [[new_delivery(10 * n + k) for k in range(2)] for n in range(6)]
    answers = _run_callers(writer, groups)
    assert answers == [EnqueueResult(2, 0)] * 6
    assert all(sum(write) <= max(max_rows, 2) for write in held.writes)
    assert sum(map(sum, held.writes)) == 12
