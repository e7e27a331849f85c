"""The inbox's expander against a real queue: kept pushes become the deliveries the receiver
would have queued, once, and it gives way to a busy receiver."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest

from hookrelay.core.routing import plan_push
from hookrelay.core.webhooks import Push, PushedCommit, decode_push, encode_push
from hookrelay.exceptions import PayloadError, StoreError
from hookrelay.inbox import Expander, Inbox
from hookrelay.metrics import RelayMetrics
from hookrelay.queue import QueueStore, open_store
from hookrelay.queue.store import InboxPush
from hookrelay.settings import Settings
from tests.support.waiting import wait_until

TOKEN = "tracker-token-for-tests"


def _push(*messages: str, repository: str = "octo/cat", branch: str = "main") -> Push:
    commits = tuple(
        PushedCommit(f"{n:040x}", m, "Ada", "ada@example.org", f"https://x/{n}", "", branch)
        for n, m in enumerate(messages, 1)
    )
    return Push("github", repository, f"refs/heads/{branch}", branch, commits, "delivery-1")


@pytest.fixture
def store(tmp_path: Path) -> QueueStore:
    opened = open_store(f"sqlite:///{tmp_path / 'queue.db'}")
    yield opened  # type: ignore[misc]
    opened.close()


def _settings(**values: object) -> Settings:
    return Settings.model_validate(
        {"tracker_url": "http://127.0.0.1:9/services/v5", "tracker_token": TOKEN, **values}
    )


def test_a_push_survives_encoding_exactly() -> None:
    push = _push("[#1] a", "tabs\tand ünïcödé \x00", "")
    assert decode_push(encode_push(push)) == push
    with pytest.raises(PayloadError, match="not a push kept by hookrelay"):
        decode_push(b"\x93not a push")


def test_kept_pushes_become_the_deliveries_the_receiver_would_queue(store: QueueStore) -> None:
    """Expanded, a kept push queues exactly its plan's deliveries (bodies, keys, stories), and
    leaves the inbox; its line says what was queued."""
    settings = _settings()
    push = _push("[Finishes #11] one", "no story", "[#12 #13] two")
    store.accept([InboxPush(encode_push(push), None)], now=10.0)
    metrics = RelayMetrics()
    expander = Expander(store, settings.routing(), clock=lambda: 20.0, metrics=metrics)
    assert expander.expand_once() == 1
    expected = plan_push(push, settings.routing()).deliveries
    queued = sorted(store.list(), key=lambda d: d.commit_id)
    assert [(d.dedupe_key, d.body, d.story_ids) for d in queued] == [
        (e.dedupe_key, e.body, e.story_ids) for e in expected
    ]
    assert all(d.created_at == 20.0 for d in queued)
    assert store.inbox_count() == 0
    assert expander.expand_once() == 0
    assert metrics.queued._value.get() == 2


def test_a_redelivered_push_is_queued_once(store: QueueStore) -> None:
    settings = _settings()
    push = _push("[#5] once")
    kept = InboxPush(encode_push(push), None)
    store.accept([kept, kept], now=1.0)
    Expander(store, settings.routing(), clock=lambda: 2.0).expand_once()
    assert len(store.list()) == 1
    assert store.inbox_count() == 0


def test_the_hook_urls_token_travels_with_the_push(store: QueueStore) -> None:
    """A push kept with the ``?token=`` of its hook URL is delivered with that token."""
    store.accept([InboxPush(encode_push(_push("[#5] x")), "caller-token-0123")], now=1.0)
    Expander(store, _settings().routing(), clock=lambda: 2.0).expand_once()
    (delivery,) = store.list()
    assert delivery.token == "caller-token-0123"


def test_a_push_that_cannot_be_planned_stays_and_the_others_are_expanded(
    store: QueueStore, caplog: pytest.LogCaptureFixture
) -> None:
    """With no token for it any more, a kept push stays in the inbox (said in the log) and the
    pushes after it are expanded."""
    routing = _settings(tracker_token=None).routing()
    store.accept([InboxPush(encode_push(_push("[#1] no token")), None)], now=1.0)
    store.accept([InboxPush(encode_push(_push("[#2] own token")), "its-own-token-01")], now=1.0)
    expander = Expander(store, routing, clock=lambda: 2.0)
    with caplog.at_level(logging.ERROR, logger="hookrelay.inbox"):
        expander.expand_once()
    assert [d.token for d in store.list()] == ["its-own-token-01"]
    assert store.inbox_count() == 1
    assert "stays in the inbox" in caplog.text
    assert "no Tracker token" in caplog.text
    assert expander.expand_once() == 0  # not tried again by this process


def _expand_in_thread(expander: Expander) -> threading.Thread:
    thread = threading.Thread(target=expander.expand_once, daemon=True)
    thread.start()
    return thread


def test_the_expander_gives_way_while_the_receiver_is_busy(store: QueueStore) -> None:
    """While a request is in flight the kept push waits; once the receiver is idle it is
    expanded."""
    inbox = Inbox(store, clock=lambda: 1.0)
    inbox.kept = 1
    inbox.enter()
    store.accept([InboxPush(encode_push(_push("[#1] waits")), None)], now=1.0)
    thread = _expand_in_thread(
        Expander(store, _settings().routing(), clock=lambda: 2.0, inbox=inbox)
    )
    thread.join(0.5)
    assert thread.is_alive()
    assert store.inbox_count() == 1
    inbox.leave()
    inbox.last_request = 0.0  # and no request in the last moments either
    thread.join(10)
    assert not thread.is_alive()
    assert store.inbox_count() == 0
    assert len(store.list()) == 1


def test_a_push_counts_as_kept_from_the_moment_it_is_written(store: QueueStore) -> None:
    """The expander, which gives way while pushes are kept, already counts a push while its
    write runs (it may see the row before the request runs again); one that fails is not
    counted."""
    counted: list[int] = []

    class Watched:
        def __init__(self, fail: bool) -> None:
            self.fail = fail

        def accept(self, pushes: list[InboxPush], *, now: float) -> None:
            counted.append(inbox.kept)
            if self.fail:
                raise StoreError("the disk is full")
            store.accept(pushes, now=now)

    inbox = Inbox(Watched(fail=False), clock=lambda: 1.0)  # type: ignore[arg-type]
    asyncio.run(inbox.keep(InboxPush(encode_push(_push("[#1] kept")), None)))
    assert (counted, inbox.kept, store.inbox_count()) == ([1], 1, 1)
    inbox = Inbox(Watched(fail=True), clock=lambda: 1.0)  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        asyncio.run(inbox.keep(InboxPush(encode_push(_push("[#2] lost")), None)))
    assert inbox.kept == 0


def test_a_full_inbox_is_expanded_even_under_load(store: QueueStore) -> None:
    """Past its high-water mark the expander no longer waits for the receiver."""
    inbox = Inbox(store, clock=lambda: 1.0)
    inbox.enter()
    inbox.kept = 3
    store.accept([InboxPush(encode_push(_push(f"[#{n}] x")), None) for n in (1, 2, 3)], now=1.0)
    expander = Expander(store, _settings().routing(), clock=lambda: 2.0, inbox=inbox, high_water=3)
    thread = _expand_in_thread(expander)
    thread.join(10)
    assert not thread.is_alive()
    assert store.inbox_count() == 0
    assert inbox.kept == 0


def test_under_endless_load_a_batch_is_expanded_every_max_wait(store: QueueStore) -> None:
    inbox = Inbox(store, clock=lambda: 1.0)
    inbox.enter()
    inbox.kept = 1
    store.accept([InboxPush(encode_push(_push("[#1] x")), None)], now=1.0)
    expander = Expander(store, _settings().routing(), clock=lambda: 2.0, inbox=inbox, max_wait=0.2)
    thread = _expand_in_thread(expander)
    thread.join(10)
    assert not thread.is_alive()
    assert store.inbox_count() == 0


def test_run_expands_what_other_processes_kept_and_stops(store: QueueStore) -> None:
    """``run`` (as ``hookrelay worker`` runs it, with no receiver) expands pushes kept by
    another process, and returns once stopped."""
    stop = threading.Event()
    expander = Expander(store, _settings().routing(), clock=lambda: 2.0)
    thread = threading.Thread(target=expander.run, args=(stop,), kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        store.accept([InboxPush(encode_push(_push("[#1] elsewhere")), None)], now=1.0)
        wait_until(lambda: store.inbox_count() == 0, 10, "the kept push expanded")
        assert len(store.list()) == 1
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
