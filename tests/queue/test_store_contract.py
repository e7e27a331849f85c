"""The ``QueueStore`` contract, run against every store (SQLite and PostgreSQL) on a fresh database."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace

import pytest

from hookrelay.core.lifecycle import TRANSITIONS, Event, is_due
from hookrelay.core.tracker_api import token_fingerprint
from hookrelay.exceptions import StoreError
from hookrelay.queue import AttemptResult, Delivery, NewDelivery, QueueStore, State
from hookrelay.queue.inserting import ROWS_A_STATEMENT
from hookrelay.queue.migrations import SCHEMA_VERSION_POSTGRES, SCHEMA_VERSION_SQLITE, STEPS
from hookrelay.queue.store import InboxPush, public_view
from tests.queue.conftest import QueueDatabase

TARGET = "http://127.0.0.1:9/services/v5"
TOKEN = "tracker-token-0123456789abcdef"


def new_delivery(number: int, *, target: str = TARGET, body: bytes | None = None) -> NewDelivery:
    """A commit to queue, the n-th of a test."""
    commit = f"{number:040x}"
    return NewDelivery(
        dedupe_key=f"{target}|{token_fingerprint(TOKEN)}|{commit}",
        target_url=target,
        token=TOKEN,
        token_fingerprint=token_fingerprint(TOKEN),
        commit_id=commit,
        body=body if body is not None else f'{{"source_commit": {{"n": {number}}}}}'.encode(),
        repository="octo/hello",
        branch="main",
        summary=f"[Finishes #{number}] commit {number}",
    )


def lease_one(store: QueueStore, *, now: float, lease_seconds: float = 60.0) -> Delivery:
    """Lease exactly one delivery."""
    (leased,) = store.lease(now=now, limit=1, lease_seconds=lease_seconds)
    return leased


def current(store: QueueStore, delivery_id: int) -> Delivery:
    """The delivery as the store holds it now."""
    delivery = store.get(delivery_id)
    assert delivery is not None
    return delivery


# --- enqueue and dedupe -------------------------------------------------------------------------


def test_enqueue_keeps_every_field(store: QueueStore) -> None:
    """A queued commit comes back with every field as given, body bytes exact, pending and due."""
    item = new_delivery(1, body=b"<source_commit>\xff\x00]]></source_commit>")
    assert store.enqueue([item], now=1000.0).queued == 1
    (delivery,) = store.list()
    assert (delivery.dedupe_key, delivery.target_url, delivery.token) == (
        item.dedupe_key,
        TARGET,
        TOKEN,
    )
    assert delivery.token_fingerprint == token_fingerprint(TOKEN)
    assert (delivery.commit_id, delivery.body) == (item.commit_id, item.body)
    assert (delivery.repository, delivery.branch, delivery.summary) == (
        "octo/hello",
        "main",
        item.summary,
    )
    assert delivery.state is State.PENDING
    assert delivery.attempts == 0
    assert delivery.created_at == delivery.next_attempt_at == 1000.0
    assert delivery.first_attempt_at is None
    assert delivery.lease_until is None
    assert delivery.finished_at is None
    assert delivery.last_error == ""


def test_enqueue_of_a_known_key_is_a_counted_no_op(store: QueueStore) -> None:
    """A second enqueue of a dedupe key queues nothing, counts a duplicate and keeps the first row."""
    assert store.enqueue([new_delivery(1), new_delivery(2)], now=1.0).queued == 2
    again = NewDelivery(**{**_fields(new_delivery(1)), "summary": "changed"})
    result = store.enqueue([again, new_delivery(3)], now=2.0)
    assert (result.queued, result.duplicates) == (1, 1)
    assert len(store.list()) == 3
    (first,) = [d for d in store.list() if d.commit_id == again.commit_id]
    assert (first.summary, first.created_at) == (new_delivery(1).summary, 1.0)


def test_duplicates_within_one_batch_are_queued_once(store: QueueStore) -> None:
    """The same commit twice in one push (ten branches, distinct: false) is queued once."""
    result = store.enqueue([new_delivery(1)] * 3, now=1.0)
    assert (result.queued, result.duplicates) == (1, 2)


def test_a_delivered_commit_stays_deduped(store: QueueStore) -> None:
    """A redelivery of an already delivered commit is a duplicate, never a second post."""
    store.enqueue([new_delivery(1)], now=1.0)
    assert store.mark_delivered(lease_one(store, now=1.0), now=2.0)
    assert store.enqueue([new_delivery(1)], now=3.0).duplicates == 1
    assert store.lease(now=4.0, limit=10, lease_seconds=60) == []


@pytest.mark.parametrize("count", [1, 3, 1024, 1500], ids=lambda n: f"{n}-commits")
def test_enqueue_of_any_size_queues_exactly_its_commits(store: QueueStore, count: int) -> None:
    """Batches of any size (statements are padded to a power of two of rows) queue exactly
    their commits, with no row for the padding, and count a second enqueue as duplicates."""
    batch = [new_delivery(number) for number in range(count)]
    assert store.enqueue(batch, now=1.0).queued == count
    assert store.counts()[State.PENDING] == sum(store.counts().values()) == count
    assert store.enqueue(batch[: count // 2 + 1], now=2.0).duplicates == count // 2 + 1


def test_enqueue_nothing(store: QueueStore) -> None:
    """An empty batch queues nothing and is not an error."""
    result = store.enqueue([], now=1.0)
    assert (result.queued, result.duplicates) == (0, 0)


# --- leases -------------------------------------------------------------------------------------


def test_lease_takes_due_commits_oldest_first_up_to_the_limit(store: QueueStore) -> None:
    """A lease takes the oldest due commits, no more than asked, counting an attempt on each."""
    for number in range(5):
        store.enqueue([new_delivery(number)], now=100.0 + number)
    leased = store.lease(now=200.0, limit=3, lease_seconds=30.0)
    assert [d.commit_id for d in leased] == [new_delivery(n).commit_id for n in range(3)]
    for delivery in leased:
        assert delivery.state is State.LEASED
        assert delivery.attempts == 1
        assert delivery.lease_until == 230.0
        assert delivery.first_attempt_at == 200.0
        assert current(store, delivery.id) == delivery


def test_nothing_is_due_before_it_was_queued(store: QueueStore) -> None:
    """A lease before a commit's next attempt time takes nothing."""
    store.enqueue([new_delivery(1)], now=100.0)
    assert store.lease(now=99.0, limit=10, lease_seconds=30) == []
    assert store.lease(now=100.0, limit=0, lease_seconds=30) == []


def test_a_held_lease_is_not_leased_again(store: QueueStore) -> None:
    """While a lease holds, no other lease takes the commit."""
    store.enqueue([new_delivery(1)], now=0.0)
    lease_one(store, now=0.0, lease_seconds=60.0)
    assert store.lease(now=59.9, limit=10, lease_seconds=60) == []


def test_an_expired_lease_is_leased_again(store: QueueStore) -> None:
    """A commit whose worker vanished is leased again when its lease expires, as a new attempt."""
    store.enqueue([new_delivery(1)], now=0.0)
    first = lease_one(store, now=10.0, lease_seconds=60.0)
    second = lease_one(store, now=70.0, lease_seconds=60.0)
    assert second.id == first.id
    assert second.attempts == 2
    assert second.lease_until == 130.0
    assert second.first_attempt_at == 10.0


@pytest.mark.parametrize(
    "outcome",
    ["delivered", "waiting", "dead", "release"],
    ids=["delivered", "waiting", "dead", "release"],
)
def test_a_lost_lease_changes_nothing(store: QueueStore, outcome: str) -> None:
    """A worker whose lease expired and was taken over cannot record its outcome (fencing)."""
    store.enqueue([new_delivery(1)], now=0.0)
    stale = lease_one(store, now=0.0, lease_seconds=10.0)
    fresh = lease_one(store, now=20.0, lease_seconds=10.0)
    recorded = {
        "delivered": lambda d: store.mark_delivered(d, now=21.0),
        "waiting": lambda d: store.mark_waiting(d, now=21.0, next_attempt_at=99.0, error="e"),
        "dead": lambda d: store.mark_dead(d, now=21.0, error="e"),
        "release": lambda d: store.release(d, now=21.0),
    }[outcome]
    assert recorded(stale) is False
    assert current(store, fresh.id) == fresh
    assert recorded(fresh) is True


def test_release_gives_the_commit_back_uncounted(store: QueueStore) -> None:
    """A released commit is pending and due at once, its attempt not counted, its horizon unset."""
    store.enqueue([new_delivery(1)], now=0.0)
    leased = lease_one(store, now=5.0)
    assert store.release(leased, now=6.0)
    released = current(store, leased.id)
    assert released.state is State.PENDING
    assert (released.attempts, released.first_attempt_at, released.lease_until) == (0, None, None)
    assert lease_one(store, now=6.0).attempts == 1


def test_release_after_earlier_attempts_keeps_the_horizon(store: QueueStore) -> None:
    """Releasing a second attempt keeps the first attempt's time, so give-up still counts from it."""
    store.enqueue([new_delivery(1)], now=0.0)
    store.mark_waiting(lease_one(store, now=1.0), now=1.0, next_attempt_at=5.0, error="HTTP 503")
    assert store.release(lease_one(store, now=5.0), now=5.0)
    (released,) = store.list()
    assert (released.attempts, released.first_attempt_at) == (1, 1.0)


# --- outcomes -----------------------------------------------------------------------------------


def test_delivered(store: QueueStore) -> None:
    """A delivered commit is finished, keeps no lease and is never leased again."""
    store.enqueue([new_delivery(1)], now=0.0)
    assert store.mark_delivered(lease_one(store, now=1.0), now=2.0)
    delivered = store.list()[0]
    assert delivered.state is State.DELIVERED
    assert (delivered.finished_at, delivered.lease_until) == (2.0, None)
    assert store.lease(now=10_000.0, limit=10, lease_seconds=60) == []


def test_waiting_is_due_at_its_next_attempt(store: QueueStore) -> None:
    """A waiting commit keeps its error and is leased again only once its next attempt is due."""
    store.enqueue([new_delivery(1)], now=0.0)
    leased = lease_one(store, now=0.0)
    assert store.mark_waiting(leased, now=1.0, next_attempt_at=50.0, error="HTTP 503: busy")
    waiting = current(store, leased.id)
    assert (waiting.state, waiting.next_attempt_at, waiting.last_error) == (
        State.WAITING,
        50.0,
        "HTTP 503: busy",
    )
    assert waiting.lease_until is None
    assert store.lease(now=49.0, limit=10, lease_seconds=60) == []
    again = lease_one(store, now=50.0)
    assert (again.attempts, again.first_attempt_at, again.last_error) == (2, 0.0, "HTTP 503: busy")


def test_dead_keeps_trackers_text_and_is_never_leased(store: QueueStore) -> None:
    """A dead commit keeps Tracker's error text, is finished and never leased again."""
    store.enqueue([new_delivery(1)], now=0.0)
    assert store.mark_dead(lease_one(store, now=0.0), now=3.0, error="HTTP 401: Invalid token")
    dead = store.list()[0]
    assert (dead.state, dead.finished_at, dead.last_error) == (
        State.DEAD,
        3.0,
        "HTTP 401: Invalid token",
    )
    assert store.lease(now=10_000.0, limit=10, lease_seconds=60) == []


# --- manual retry -------------------------------------------------------------------------------


def test_retry_makes_a_dead_commit_due_now_with_a_fresh_horizon(store: QueueStore) -> None:
    """Retrying a dead commit makes it pending and due now, attempts kept, horizon restarted."""
    store.enqueue([new_delivery(1)], now=0.0)
    leased = lease_one(store, now=0.0)
    store.mark_dead(leased, now=1.0, error="HTTP 404")
    assert store.retry(leased.id, now=500.0)
    retried = current(store, leased.id)
    assert (retried.state, retried.next_attempt_at, retried.attempts) == (State.PENDING, 500.0, 1)
    assert (retried.first_attempt_at, retried.finished_at) == (None, None)
    assert retried.last_error == "HTTP 404"
    again = lease_one(store, now=500.0)
    assert (again.attempts, again.first_attempt_at) == (2, 500.0)


def test_retry_makes_a_waiting_commit_due_now(store: QueueStore) -> None:
    """Retrying a waiting commit brings its next attempt forward to now."""
    store.enqueue([new_delivery(1)], now=0.0)
    store.mark_waiting(lease_one(store, now=0.0), now=0.0, next_attempt_at=3600.0, error="e")
    assert store.retry(store.list()[0].id, now=10.0)
    assert lease_one(store, now=10.0).attempts == 2


def test_retry_refuses_unknown_delivered_and_leased(store: QueueStore) -> None:
    """Retry answers False for an unknown id, a delivered commit (final) and one in flight."""
    store.enqueue([new_delivery(1), new_delivery(2)], now=0.0)
    first, second = store.lease(now=0.0, limit=2, lease_seconds=60)
    store.mark_delivered(first, now=1.0)
    assert store.retry(first.id, now=2.0) is False
    assert store.retry(second.id, now=2.0) is False
    assert store.retry(999_999, now=2.0) is False
    assert current(store, first.id).state is State.DELIVERED
    assert current(store, second.id).state is State.LEASED


def test_retry_dead_retries_only_the_dead(store: QueueStore) -> None:
    """``retry_dead`` makes every dead commit due now, counts them and leaves the rest alone."""
    store.enqueue([new_delivery(n) for n in range(4)], now=0.0)
    a, b, c, _ = store.lease(now=0.0, limit=4, lease_seconds=60)
    store.mark_dead(a, now=1.0, error="HTTP 422")
    store.mark_dead(b, now=1.0, error="HTTP 422")
    store.mark_delivered(c, now=1.0)
    assert store.retry_dead(now=5.0) == 2
    counts = store.counts()
    assert (counts[State.PENDING], counts[State.DELIVERED], counts[State.LEASED]) == (2, 1, 1)
    assert counts[State.DEAD] == 0
    assert store.retry_dead(now=6.0) == 0


def test_record_marks_several_attempts_in_one_call(store: QueueStore) -> None:
    """``record`` ends several leases at once, each as told, and skips (False) one whose lease
    another worker took over meanwhile."""
    store.enqueue([new_delivery(n) for n in range(4)], now=0.0)
    a, b, c = store.lease(now=0.0, limit=3, lease_seconds=100.0)
    d = lease_one(store, now=0.0, lease_seconds=10.0)
    taken_over = lease_one(store, now=11.0)
    assert taken_over.id == d.id
    results = [
        AttemptResult(a, State.DELIVERED),
        AttemptResult(b, State.WAITING, next_attempt_at=50.0, error="HTTP 503"),
        AttemptResult(c, State.DEAD, error="HTTP 422"),
        AttemptResult(d, State.DELIVERED),
    ]
    assert store.record(results, now=12.0) == [True, True, True, False]
    assert (current(store, a.id).state, current(store, a.id).finished_at) == (State.DELIVERED, 12.0)
    waiting = current(store, b.id)
    assert (waiting.state, waiting.next_attempt_at, waiting.last_error) == (
        State.WAITING,
        50.0,
        "HTTP 503",
    )
    assert (current(store, c.id).state, current(store, c.id).last_error) == (State.DEAD, "HTTP 422")
    assert current(store, d.id) == taken_over
    assert store.record([], now=13.0) == []


def test_lease_takes_exactly_what_lifecycle_calls_due(store: QueueStore) -> None:
    """The lease query and ``lifecycle.is_due`` agree on every kind of row: pending, waiting
    and leased, each before, at and after its time, and the final states."""
    rows: list[Delivery] = []
    for number, (state, at) in enumerate(
        [(s, t) for s in (State.PENDING, State.WAITING, State.LEASED) for t in (40.0, 50.0, 60.0)]
        + [(State.DELIVERED, 0.0), (State.DEAD, 0.0)]
    ):
        store.enqueue([new_delivery(number)], now=at if state is State.PENDING else 0.0)
        if state is State.PENDING:
            continue
        (leased,) = [
            d
            for d in store.lease(now=0.0, limit=100, lease_seconds=at)
            if d.commit_id == new_delivery(number).commit_id
        ]
        if state is State.WAITING:
            store.mark_waiting(leased, now=0.0, next_attempt_at=at, error="e")
        elif state is State.DELIVERED:
            store.mark_delivered(leased, now=0.0)
        elif state is State.DEAD:
            store.mark_dead(leased, now=0.0, error="e")
    rows = store.list(limit=1000)
    assert sorted(d.state.value for d in rows) == sorted(
        ["pending"] * 3 + ["waiting"] * 3 + ["leased"] * 3 + ["delivered", "dead"]
    )
    now = 50.0
    due = {
        d.id
        for d in rows
        if is_due(d.state, next_attempt_at=d.next_attempt_at, lease_until=d.lease_until, now=now)
    }
    assert len(due) == 6
    assert {d.id for d in store.lease(now=now, limit=100, lease_seconds=10.0)} == due


# --- the table, whole ---------------------------------------------------------------------------


def _put_in(store: QueueStore, state: State) -> Delivery:
    """A commit in ``state``, as a worker or the CLI would hold it."""
    store.enqueue([new_delivery(1)], now=0.0)
    if state is State.PENDING:
        return store.list()[0]
    leased = lease_one(store, now=0.0, lease_seconds=10.0)
    if state is State.WAITING:
        store.mark_waiting(leased, now=0.0, next_attempt_at=5.0, error="e")
    elif state is State.DELIVERED:
        store.mark_delivered(leased, now=0.0)
    elif state is State.DEAD:
        store.mark_dead(leased, now=0.0, error="e")
    return current(store, leased.id)


def _apply(store: QueueStore, delivery: Delivery, event: Event) -> bool:
    now = 100.0  # past every lease and next attempt above
    match event:
        case Event.LEASE:
            return bool(store.lease(now=now, limit=10, lease_seconds=10))
        case Event.DELIVER:
            return store.mark_delivered(delivery, now=now)
        case Event.FAIL:
            return store.mark_waiting(delivery, now=now, next_attempt_at=200.0, error="f")
        case Event.REFUSE:
            return store.mark_dead(delivery, now=now, error="r")
        case Event.RELEASE:
            return store.release(delivery, now=now)
        case Event.RETRY:
            return store.retry(delivery.id, now=now)


@pytest.mark.parametrize(
    ("state", "event"),
    [(state, event) for state in State for event in Event],
    ids=[f"{state}-{event}" for state in State for event in Event],
)
def test_the_store_follows_the_lifecycle_table(
    store: QueueStore, state: State, event: Event
) -> None:
    """Every (state, event) pair does exactly what ``hookrelay.core.lifecycle`` says, or nothing."""
    delivery = _put_in(store, state)
    expected = TRANSITIONS.get((state, event))
    assert _apply(store, delivery, event) is (expected is not None)
    assert current(store, delivery.id).state is (expected or state)


# --- reading ------------------------------------------------------------------------------------


def test_list_is_newest_first_with_state_filter_and_paging(store: QueueStore) -> None:
    """``list`` pages newest first with ``before_id`` and filters by state."""
    store.enqueue([new_delivery(n) for n in range(7)], now=0.0)
    ids = [d.id for d in store.list()]
    assert ids == sorted(ids, reverse=True)
    first_page = store.list(limit=3)
    second_page = store.list(limit=3, before_id=first_page[-1].id)
    last_page = store.list(limit=3, before_id=second_page[-1].id)
    assert [d.id for d in first_page + second_page + last_page] == ids
    assert len(last_page) == 1
    leased = store.lease(now=0.0, limit=2, lease_seconds=60)
    assert {d.id for d in store.list(state=State.LEASED)} == {d.id for d in leased}
    assert len(store.list(state=State.PENDING)) == 5
    assert store.list(state=State.DEAD) == []
    assert store.list(limit=0) == []


def test_counts_name_every_state(store: QueueStore) -> None:
    """``counts`` has every state, zero included, and adds up to the rows stored."""
    assert store.counts() == dict.fromkeys(State, 0)
    store.enqueue([new_delivery(n) for n in range(3)], now=0.0)
    store.mark_dead(lease_one(store, now=0.0), now=1.0, error="e")
    assert store.counts() == {
        State.PENDING: 2,
        State.LEASED: 0,
        State.WAITING: 0,
        State.DELIVERED: 0,
        State.DEAD: 1,
    }


def test_oldest_due_ignores_finished_commits(store: QueueStore) -> None:
    """The oldest commit still to deliver is reported; delivered and dead ones do not count."""
    assert store.oldest_due_created_at() is None
    for number in range(3):
        store.enqueue([new_delivery(number)], now=10.0 * (number + 1))
    assert store.oldest_due_created_at() == 10.0
    store.mark_delivered(lease_one(store, now=100.0), now=100.0)
    assert store.oldest_due_created_at() == 20.0
    second = lease_one(store, now=100.0)
    assert store.oldest_due_created_at() == 20.0  # leased is still to deliver
    store.mark_dead(second, now=100.0, error="e")
    assert store.oldest_due_created_at() == 30.0


def test_get_of_an_unknown_id_is_none(store: QueueStore) -> None:
    """``get`` answers None for an id it never issued."""
    assert store.get(424242) is None


# --- prune --------------------------------------------------------------------------------------


def test_prune_deletes_only_old_finished_commits(store: QueueStore) -> None:
    """Prune removes delivered and dead rows finished before the cut, and nothing still to do."""
    store.enqueue([new_delivery(n) for n in range(5)], now=0.0)
    a, b, c, d = store.lease(now=0.0, limit=4, lease_seconds=1000)
    store.mark_delivered(a, now=10.0)
    store.mark_dead(b, now=10.0, error="e")
    store.mark_delivered(c, now=50.0)
    store.mark_waiting(d, now=10.0, next_attempt_at=20.0, error="e")
    assert store.prune(finished_before=20.0) == 2
    assert {x.id for x in store.list()} == {c.id, d.id, store.list(state=State.PENDING)[0].id}
    assert store.prune(finished_before=20.0) == 0


def test_a_pruned_delivered_commit_is_never_queued_again(store: QueueStore) -> None:
    """After its row is pruned, a delivered commit is still a duplicate (a branch merged months
    later posts nothing twice); a pruned dead commit may be queued anew."""
    store.enqueue([new_delivery(1), new_delivery(2)], now=0.0)
    delivered, dead = store.lease(now=0.0, limit=2, lease_seconds=1000)
    store.mark_delivered(delivered, now=10.0)
    store.mark_dead(dead, now=10.0, error="HTTP 404")
    assert store.prune(finished_before=20.0) == 2
    assert store.list() == []
    again = store.enqueue([new_delivery(1), new_delivery(2)], now=30.0)
    assert (again.queued, again.duplicates) == (1, 1)
    assert [d.commit_id for d in store.list()] == [new_delivery(2).commit_id]


# --- durability, safety, health -----------------------------------------------------------------


def test_a_queued_commit_survives_close_and_reopen(queue_database: QueueDatabase) -> None:
    """What a store accepted is there for the next process that opens the database."""
    first = queue_database.open()
    first.enqueue([new_delivery(1), new_delivery(2)], now=1.0)
    leased = lease_one(first, now=1.0)
    first.mark_dead(leased, now=2.0, error="HTTP 422: no story")
    before = first.list()
    first.close()
    second = queue_database.open()
    assert second.list() == before
    assert second.enqueue([new_delivery(1)], now=3.0).duplicates == 1


def test_a_closed_store_raises_store_error(queue_database: QueueDatabase) -> None:
    """A store used after ``close`` raises ``StoreError``, the one error the edges expect."""
    store = queue_database.open()
    store.close()
    with pytest.raises(StoreError):
        store.enqueue([new_delivery(1)], now=0.0)
    with pytest.raises(StoreError):
        store.ping()


def test_ping(store: QueueStore) -> None:
    """A reachable, writable store answers ``ping`` without error."""
    store.ping()


def test_the_token_is_never_shown(store: QueueStore) -> None:
    """Neither a delivery's nor a store's repr shows the token; the fingerprint stands in."""
    store.enqueue([new_delivery(1)], now=0.0)
    delivery = store.list()[0]
    assert TOKEN not in repr(delivery)
    assert TOKEN not in repr(new_delivery(1))
    assert token_fingerprint(TOKEN) in repr(delivery)
    assert TOKEN not in repr(store)


def test_reopening_applies_no_migration_twice(queue_database: QueueDatabase) -> None:
    """Opening an up-to-date database changes nothing: one schema_version row per step."""
    queue_database.open().close()
    queue_database.open().close()
    versions = queue_database.execute("SELECT version FROM schema_version ORDER BY version")
    assert versions == [(step.version,) for step in STEPS]


def test_a_version_1_queue_is_upgraded_with_its_commits(queue_database: QueueDatabase) -> None:
    """A queue made by the first schema alone is migrated on open, keeping what it held."""
    first = STEPS[0]
    sqlite = queue_database.kind == "sqlite"
    item = new_delivery(1)
    statements = [
        SCHEMA_VERSION_SQLITE if sqlite else SCHEMA_VERSION_POSTGRES,
        *(first.sqlite if sqlite else first.postgres),
        "INSERT INTO schema_version (version, description) VALUES (1, 'deliveries')",
    ]
    for statement in statements:
        queue_database.execute(statement)
    queue_database.execute(
        "INSERT INTO deliveries (dedupe_key, target_url, token, token_fingerprint, commit_id, "
        "body, state, created_at, next_attempt_at) VALUES (?, ?, ?, '', ?, ?, 'pending', 0, 0)",
        (item.dedupe_key, TARGET, TOKEN, item.commit_id, item.body),
    )
    upgraded = queue_database.open()
    assert [d.commit_id for d in upgraded.list()] == [new_delivery(1).commit_id]
    assert upgraded.enqueue([new_delivery(1)], now=1.0).duplicates == 1
    versions = queue_database.execute("SELECT version FROM schema_version ORDER BY version")
    assert versions == [(step.version,) for step in STEPS]


def test_a_newer_schema_is_refused(queue_database: QueueDatabase) -> None:
    """A database written by a newer hookrelay is refused with a reason, not guessed at."""
    queue_database.open().close()
    queue_database.execute("INSERT INTO schema_version (version, description) VALUES (99, 'x')")
    with pytest.raises(StoreError, match="newer than this hookrelay"):
        queue_database.open()


# --- replicas -----------------------------------------------------------------------------------


def test_two_replicas_never_lease_one_commit_twice(queue_database: QueueDatabase) -> None:
    """Two stores on one database, leasing in parallel threads, each take different commits."""
    replicas = [queue_database.open(), queue_database.open()]
    total = 200
    replicas[0].enqueue([new_delivery(n) for n in range(total)], now=0.0)
    leased: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def work(store: QueueStore) -> None:
        try:
            start.wait()
            while batch := store.lease(now=1.0, limit=3, lease_seconds=3600):
                for delivery in batch:
                    assert store.mark_delivered(delivery, now=1.0)
                with lock:
                    leased.extend(d.id for d in batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(replicas[n % 2],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert [n for n in Counter(leased).values() if n > 1] == []
    assert len(leased) == total
    assert replicas[1].counts()[State.DELIVERED] == total


def _fields(item: NewDelivery) -> dict[str, object]:
    return {name: getattr(item, name) for name in item.__dataclass_fields__}


# --- what the Tracker-compatible ingest asks of a store -----------------------------------------


def test_repaired_is_kept_and_shown(store: QueueStore) -> None:
    """What the ingest repaired is stored with the delivery and shown in its public view."""
    store.enqueue([replace(new_delivery(1), repaired="bare &, bare <"), new_delivery(2)], now=0.0)
    first, second = sorted(store.list(), key=lambda d: d.id)
    assert first.repaired == "bare &, bare <"
    assert second.repaired == ""
    assert public_view(first)["repaired"] == "bare &, bare <"


def test_pending_bytes_counts_a_tokens_undelivered_bodies(store: QueueStore) -> None:
    """A token's pending bytes are the bodies not yet delivered or dead, and no other token's."""
    fingerprint = token_fingerprint(TOKEN)
    assert store.pending_bytes(fingerprint) == 0
    store.enqueue([new_delivery(n, body=b"x" * 100) for n in range(3)], now=0.0)
    assert store.pending_bytes(fingerprint) == 300
    leased = lease_one(store, now=1.0)
    assert store.pending_bytes(fingerprint) == 300
    store.mark_delivered(leased, now=2.0)
    assert store.pending_bytes(fingerprint) == 200
    store.mark_dead(lease_one(store, now=3.0), now=3.0, error="HTTP 422")
    assert store.pending_bytes(fingerprint) == 100
    assert store.pending_bytes(token_fingerprint("another token")) == 0


# --- the inbox: pushes kept while the receiver is busy ------------------------------------------


def _kept(number: int, token: str | None = None) -> InboxPush:
    return InboxPush(f"push {number} \x00\xff".encode(), token)


def test_accepted_pushes_wait_in_the_inbox_oldest_first(store: QueueStore) -> None:
    """Kept pushes come back byte for byte with their token and time, oldest first, paged."""
    store.accept([_kept(1, "tok-1"), _kept(2)], now=100.0)
    store.accept([_kept(3)], now=101.0)
    assert store.inbox_count() == 3
    first, second, third = store.inbox(limit=10)
    assert (first.push, first.token, first.received_at) == (_kept(1).push, "tok-1", 100.0)
    assert (second.push, second.token) == (_kept(2).push, None)
    assert third.received_at == 101.0
    assert first.id < second.id < third.id
    assert [p.id for p in store.inbox(limit=1, after_id=first.id)] == [second.id]
    assert store.list() == []  # nothing is queued for delivery until it is expanded


def test_a_group_bigger_than_one_statement_is_kept_whole(store: QueueStore) -> None:
    """A group of more pushes than one statement holds is kept whole, in order."""
    count = ROWS_A_STATEMENT + 3
    store.accept([_kept(n) for n in range(count)], now=1.0)
    assert [p.push for p in store.inbox(limit=count + 1)] == [_kept(n).push for n in range(count)]


def test_expand_queues_a_pushs_deliveries_and_takes_it_out(store: QueueStore) -> None:
    """Expanding takes each push out of the inbox and queues its commits, counted per push."""
    store.accept([_kept(1), _kept(2)], now=100.0)
    one, two = store.inbox(limit=10)
    store.enqueue([new_delivery(3)], now=100.0)
    results = store.expand(
        [(one.id, [new_delivery(1), new_delivery(2)]), (two.id, [new_delivery(3)])], now=200.0
    )
    assert [(r.queued, r.duplicates) for r in results if r is not None] == [(2, 0), (0, 1)]
    assert store.inbox_count() == 0
    assert sorted(d.commit_id for d in store.list()) == [
        new_delivery(n).commit_id for n in (1, 2, 3)
    ]
    assert store.expand([(one.id, [new_delivery(9)])], now=300.0) == [None]
    assert len(store.list()) == 3  # a push expanded already queues nothing more


def test_a_push_with_nothing_to_queue_is_still_taken_out(store: QueueStore) -> None:
    store.accept([_kept(1)], now=1.0)
    (kept,) = store.inbox(limit=1)
    (result,) = store.expand([(kept.id, [])], now=2.0)
    assert result is not None
    assert (result.queued, result.duplicates) == (0, 0)
    assert store.inbox_count() == 0


def test_two_expanders_expand_each_push_once(queue_database: QueueDatabase) -> None:
    """Replicas expanding the same pushes at once: each push is taken by one of them, and its
    commits are queued once."""
    setup = queue_database.open()
    setup.accept([_kept(n) for n in range(40)], now=1.0)
    kept = setup.inbox(limit=100)
    taken: list[list[int]] = [[], []]
    stores = [queue_database.open(), queue_database.open()]
    barrier = threading.Barrier(2)

    def expand(index: int) -> None:
        store = stores[index]
        barrier.wait()
        for push in kept:  # one push a transaction, both in the same order
            result = store.expand([(push.id, [new_delivery(push.id)])], now=2.0)[0]
            if result is not None:
                taken[index].append(push.id)

    threads = [threading.Thread(target=expand, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken[0] + taken[1]) == sorted(p.id for p in kept)
    assert len(setup.list(limit=100)) == 40
    assert setup.inbox_count() == 0


def test_a_kept_push_survives_close_and_reopen(queue_database: QueueDatabase) -> None:
    store = queue_database.open()
    store.accept([_kept(7, "tok")], now=5.0)
    store.close()
    (kept,) = queue_database.open().inbox(limit=5)
    assert (kept.push, kept.token) == (_kept(7).push, "tok")
