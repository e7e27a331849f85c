"""The operator's part of the ``QueueStore`` contract (dashboard, attempts, retry elsewhere,
discard, backfill's dedupe look-up), run against every store on a fresh database."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hookrelay.queue import QueueStore, State
from hookrelay.queue.migrations import SCHEMA_VERSION_POSTGRES, SCHEMA_VERSION_SQLITE, STEPS
from hookrelay.queue.store import DeliveryFilter, Redirect, RetryOutcome, TokenSource
from tests.queue.conftest import QueueDatabase
from tests.queue.test_store_contract import current, lease_one, new_delivery

OTHER = "http://127.0.0.1:9/services/v3"


def test_every_answer_is_an_attempt_with_its_time(store: QueueStore) -> None:
    """Waiting, dead and delivered marks each add an attempt, in order, with Tracker's words;
    a mark whose lease was lost adds none."""
    store.enqueue([new_delivery(1)], now=0.0)
    first = lease_one(store, now=1.0)
    assert store.mark_waiting(first, now=2.0, next_attempt_at=3.0, error="HTTP 503: busy")
    second = lease_one(store, now=3.0)
    assert not store.mark_waiting(first, now=3.5, next_attempt_at=9.0, error="stale")
    assert store.mark_dead(second, now=4.0, error="HTTP 401: Access Denied.")
    assert store.retry(second.id, now=5.0)
    third = lease_one(store, now=5.0)
    assert store.mark_delivered(third, now=6.0)
    assert [(a.number, a.at, a.outcome, a.answer) for a in store.attempts(first.id)] == [
        (1, 2.0, State.WAITING, "HTTP 503: busy"),
        (2, 4.0, State.DEAD, "HTTP 401: Access Denied."),
        (3, 6.0, State.DELIVERED, ""),
    ]


def test_token_source_and_story_ids_are_kept(store: QueueStore) -> None:
    """Where the token came from and the story ids come back as queued."""
    store.enqueue(
        [replace(new_delivery(1), token_source=TokenSource.COMMIT, story_ids=(7, 123456789))],
        now=0.0,
    )
    (delivery,) = store.list()
    assert delivery.token_source is TokenSource.COMMIT
    assert delivery.story_ids == (7, 123456789)


def test_find_filters_and_pages(store: QueueStore) -> None:
    """State, repository (any case), story id and commit prefix filter; before_id pages."""
    items = [
        replace(new_delivery(n), story_ids=(n % 3,), repository="octo/a" if n % 2 else "octo/b")
        for n in range(1, 11)
    ]
    store.enqueue(items, now=0.0)
    store.mark_dead(lease_one(store, now=1.0), now=1.0, error="refused")

    def ids(where: DeliveryFilter, **paging: int) -> list[int]:
        return [d.id for d in store.find(where, **paging)]

    assert ids(DeliveryFilter()) == list(range(10, 0, -1))
    assert ids(DeliveryFilter(state=State.DEAD)) == [1]
    assert ids(DeliveryFilter(repository="OCTO/A")) == [9, 7, 5, 3, 1]
    assert ids(DeliveryFilter(story_id=1)) == [10, 7, 4, 1]
    assert ids(DeliveryFilter(story_id=11)) == []
    assert ids(DeliveryFilter(commit_prefix=f"{10:040x}".upper())) == [10]
    assert ids(DeliveryFilter(commit_prefix="%")) == []
    assert ids(DeliveryFilter(commit_prefix="_")) == []
    assert ids(DeliveryFilter(repository="octo/a"), limit=2, before_id=7) == [5, 3]


def test_overview_counts_rates_and_health(store: QueueStore) -> None:
    """Counts, oldest waiting commit, deliveries a minute (oldest minute first), dead of the
    last day, and each repository's and target's last delivery and failures."""
    now = 100_000.0
    items = [new_delivery(1), new_delivery(2), new_delivery(3, target=OTHER), new_delivery(4)]
    store.enqueue(items[:3], now=now - 7200)
    store.enqueue([replace(items[3], repository="octo/other")], now=now - 60)
    one, two = store.lease(now=now - 7000, limit=2, lease_seconds=60)
    store.mark_delivered(one, now=now - 30)  # the last minute
    store.mark_delivered(two, now=now - 3590)  # the first minute of the hour
    three = lease_one(store, now=now - 100)
    store.mark_dead(three, now=now - 90, error="HTTP 404")
    summary = store.overview(now=now)
    assert summary.counts[State.DELIVERED] == 2
    assert summary.counts[State.DEAD] == 1
    assert summary.oldest_pending_at == now - 60
    assert summary.delivered_per_minute[0] == 1
    assert summary.delivered_per_minute[-1] == 1
    assert sum(summary.delivered_per_minute) == 2
    assert len(summary.delivered_per_minute) == 60
    assert summary.dead_last_day == 1
    repositories = {r.name: r for r in summary.repositories}
    assert repositories["octo/hello"].total == 3
    assert repositories["octo/hello"].last_delivered_at == now - 30
    assert repositories["octo/hello"].dead == 1
    assert repositories["octo/other"].last_delivered_at is None
    targets = {t.name: t for t in summary.targets}
    assert targets[OTHER].dead == 1
    assert targets[OTHER].total == 1


def _redirect(number: int, token: str = "new-token") -> Redirect:  # noqa: S107
    return Redirect(
        target_url=OTHER,
        token=token,
        token_fingerprint=f"fp-{token}",
        dedupe_key=f"{OTHER} fp-{token} {number:040x}",
        body=b"<source_commit/>",
    )


def test_a_retry_can_move_a_delivery_to_another_target_and_token(store: QueueStore) -> None:
    """The row takes the new target, token, key and body and is due now; a second delivery of
    the same commit cannot be moved onto that key; a delivered one cannot be moved at all."""
    store.enqueue([new_delivery(1), replace(new_delivery(1), dedupe_key="other key")], now=0.0)
    first, second = store.lease(now=1.0, limit=2, lease_seconds=60)
    store.mark_dead(first, now=2.0, error="HTTP 401")
    store.mark_dead(second, now=2.0, error="HTTP 401")
    assert store.retry_redirected(first.id, _redirect(1), now=3.0) is RetryOutcome.RETRIED
    moved = current(store, first.id)
    assert (moved.state, moved.next_attempt_at, moved.target_url) == (State.PENDING, 3.0, OTHER)
    assert (moved.token, moved.body) == ("new-token", b"<source_commit/>")
    assert store.retry_redirected(second.id, _redirect(1), now=3.0) is RetryOutcome.ALREADY_QUEUED
    assert current(store, second.id).state is State.DEAD
    store.mark_delivered(lease_one(store, now=4.0), now=5.0)
    assert (
        store.retry_redirected(first.id, _redirect(1, "third"), now=6.0)
        is RetryOutcome.NOT_RETRYABLE
    )


def test_discard_forgets_only_dead_letters_with_their_attempts(
    queue_database: QueueDatabase,
) -> None:
    """A dead delivery and its attempts go; a pending one stays; its key may be queued again."""
    store = queue_database.open()
    store.enqueue([new_delivery(1), new_delivery(2)], now=0.0)
    dead = lease_one(store, now=1.0)
    store.mark_dead(dead, now=2.0, error="HTTP 422")
    assert not store.discard(2)
    assert store.discard(dead.id)
    assert store.get(dead.id) is None
    assert queue_database.execute("SELECT COUNT(*) FROM attempts")[0][0] == 0
    assert store.enqueue([new_delivery(1)], now=3.0).queued == 1


def test_prune_forgets_the_attempts_of_what_it_deletes(queue_database: QueueDatabase) -> None:
    """Pruning a delivered and a dead delivery deletes their attempts in the same step, and
    leaves those of a delivery still waiting."""
    store = queue_database.open()
    store.enqueue([new_delivery(n) for n in range(3)], now=0.0)
    delivered, dead, waiting = store.lease(now=1.0, limit=3, lease_seconds=60)
    assert store.mark_delivered(delivered, now=2.0)
    assert store.mark_dead(dead, now=2.0, error="HTTP 422")
    assert store.mark_waiting(waiting, now=2.0, next_attempt_at=100.0, error="HTTP 503")
    assert store.prune(finished_before=10.0) == 2
    assert queue_database.execute("SELECT delivery_id FROM attempts") == [(waiting.id,)]
    assert [a.answer for a in store.attempts(waiting.id)] == ["HTTP 503"]


def test_a_version_6_queue_keeps_its_attempts_through_the_upgrade(
    queue_database: QueueDatabase,
) -> None:
    """A queue made by steps 1 to 6 (PostgreSQL's attempts still under a foreign key) is
    upgraded on open with its attempts, and deleting a delivery still forgets them."""
    sqlite = queue_database.kind == "sqlite"
    queue_database.execute(SCHEMA_VERSION_SQLITE if sqlite else SCHEMA_VERSION_POSTGRES)
    for step in STEPS[:6]:
        for statement in step.sqlite if sqlite else step.postgres:
            queue_database.execute(statement)
        queue_database.execute(
            "INSERT INTO schema_version (version, description) VALUES (?, ?)",
            (step.version, step.description),
        )
    item = new_delivery(1)
    queue_database.execute(
        "INSERT INTO deliveries (dedupe_key, target_url, token, token_fingerprint, commit_id, "
        "body, state, attempts, created_at, next_attempt_at, finished_at, last_error) "
        "VALUES (?, ?, ?, ?, ?, ?, 'dead', 1, 0, 0, 2, 'HTTP 422')",
        (
            item.dedupe_key,
            item.target_url,
            item.token,
            item.token_fingerprint,
            item.commit_id,
            item.body,
        ),
    )
    queue_database.execute(
        "INSERT INTO attempts (delivery_id, number, at, outcome, answer) "
        "VALUES (1, 1, 2, 'dead', 'HTTP 422')"
    )
    store = queue_database.open()
    versions = queue_database.execute("SELECT version FROM schema_version ORDER BY version")
    assert versions == [(step.version,) for step in STEPS]
    assert [(a.number, a.answer) for a in store.attempts(1)] == [(1, "HTTP 422")]
    assert store.discard(1)
    assert queue_database.execute("SELECT COUNT(*) FROM attempts") == [(0,)]


def test_dead_ids_and_known_keys(store: QueueStore) -> None:
    """Dead ids, all or one repository's (any case); known keys are queued or delivered ones,
    also after pruning."""
    items = [new_delivery(1), replace(new_delivery(2), repository="octo/Other"), new_delivery(3)]
    store.enqueue(items, now=0.0)
    for delivery in store.lease(now=1.0, limit=2, lease_seconds=60):
        store.mark_dead(delivery, now=2.0, error="no")
    assert store.dead_ids() == [1, 2]
    assert store.dead_ids(repository="OCTO/other") == [2]
    delivered = lease_one(store, now=3.0)
    store.mark_delivered(delivered, now=4.0)
    store.prune(finished_before=10.0)
    keys = [d.dedupe_key for d in items] + ["never queued"]
    assert store.known_keys(keys) == {items[2].dedupe_key}
    store.enqueue([new_delivery(4)], now=20.0)
    assert new_delivery(4).dedupe_key in store.known_keys([new_delivery(4).dedupe_key])


@pytest.mark.parametrize("steps_missing", [[4], [2, 4]], ids=["step-4", "steps-2-and-4"])
def test_a_step_missing_below_the_newest_is_still_applied(
    queue_database: QueueDatabase, steps_missing: list[int]
) -> None:
    """A database that misses a step (steps land out of order) gets it on open."""
    queue_database.open().close()
    if 2 in steps_missing:
        queue_database.execute("DROP TABLE delivered_keys")
    if 4 in steps_missing:
        if queue_database.kind == "sqlite":
            queue_database.execute("DROP TRIGGER attempts_forgotten")
        queue_database.execute("DROP TABLE attempts")
        for column in ("token_source", "story_ids"):
            queue_database.execute(f"ALTER TABLE deliveries DROP COLUMN {column}")
    versions = ", ".join(str(v) for v in steps_missing)
    queue_database.execute(f"DELETE FROM schema_version WHERE version IN ({versions})")  # noqa: S608
    store = queue_database.open()
    store.enqueue([new_delivery(1)], now=0.0)
    assert store.mark_dead(lease_one(store, now=1.0), now=2.0, error="x")
    assert len(store.attempts(1)) == 1
