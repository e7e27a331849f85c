"""Retrying with today's settings (``hookrelay.redelivery``): which token and target a retried
delivery goes with, on a real SQLite queue."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hookrelay.core.ingest import read_v3_xml
from hookrelay.core.routing import Routing, plan_push, plan_source_commit
from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import token_fingerprint
from hookrelay.core.webhooks import Push, PushedCommit
from hookrelay.queue import QueueStore, State, open_store
from hookrelay.queue.store import RetryOutcome, TokenSource
from hookrelay.redelivery import plan_retry, retry_deliveries, routing_of_serve
from hookrelay.settings import Settings

OLD_URL = "https://old.example.com/services/v5"
NEW_URL = "https://new.example.com/services/v3"


def settings(**values: Any) -> Settings:
    """Settings with an explicit Tracker URL and token unless overridden."""
    return Settings.model_validate({"tracker_url": OLD_URL, "tracker_token": "old-token", **values})


def push(sha: str = "a" * 40, repository: str = "octo/ship") -> Push:
    """A one-commit push naming story 42."""
    commit = PushedCommit(
        id=sha,
        message="[Finishes #42] done",
        author_name="Ada",
        author_email="ada@example.com",
        url=f"https://git.example.com/{sha}",
        timestamp="",
        branch="main",
    )
    return Push("github", repository, "refs/heads/main", "main", (commit,))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[QueueStore]:
    """A fresh SQLite queue."""
    opened = open_store(f"sqlite:///{tmp_path / 'queue.db'}")
    yield opened
    opened.close()


def dead(store: QueueStore, routing: Routing, **plan: Any) -> int:
    """Queue the push under ``routing``, let Tracker refuse it; the dead delivery's id."""
    store.enqueue(plan_push(push(), routing, **plan).deliveries, now=0.0)
    (leased,) = store.lease(now=1.0, limit=1, lease_seconds=60)
    store.mark_dead(leased, now=2.0, error="HTTP 401: Access Denied.")
    return leased.id


@pytest.mark.parametrize(
    ("queued_with", "today", "token", "target", "says"),
    [
        ({}, {"tracker_token": "new-token"}, "new-token", OLD_URL, "with today's token"),
        ({}, {"tracker_url": NEW_URL}, "old-token", NEW_URL, "with today's token"),
        (
            {"token": "hook-token"},
            {"tracker_token": "new-token"},
            "hook-token",
            OLD_URL,
            "with its own token (brought by the commit)",
        ),
        (
            {},
            {"routes": {"octo/ship": {"token": "route-token", "target": NEW_URL}}},
            "route-token",
            NEW_URL,
            "with today's token",
        ),
    ],
    ids=["new-default-token", "new-target-v3", "commit-token-stays", "new-route"],
)
def test_a_dead_letter_is_retried_with_todays_token_and_target(
    store: QueueStore,
    queued_with: dict[str, str],
    today: dict[str, Any],
    token: str,
    target: str,
    says: str,
) -> None:
    """A token from the settings is replaced by today's, one the commit brought stays; the
    target follows the route; the report says which; a v3 target gets the body as XML."""
    delivery_id = dead(store, settings().routing(), **queued_with)
    (report,) = retry_deliveries(store, settings(**today).routing(), [delivery_id], now=5.0)
    assert report.outcome is RetryOutcome.RETRIED
    assert says in report.line()
    assert f"fingerprint {token_fingerprint(token)}" in report.line()
    assert token not in report.line()
    retried = store.get(delivery_id)
    assert retried is not None
    assert (retried.state, retried.token, retried.target_url) == (State.PENDING, token, target)
    assert retried.dedupe_key.startswith(f"{target} {token_fingerprint(token)} ")
    if target.endswith("/v3"):
        assert read_v3_xml(retried.body).message == "[Finishes #42] done"


def test_an_unchanged_setting_and_an_unknown_source_retry_as_queued(store: QueueStore) -> None:
    """With the same settings, or a row from before sources were recorded, nothing moves."""
    routing = settings().routing()
    delivery_id = dead(store, routing)
    before = store.get(delivery_id)
    assert before is not None
    assert plan_retry(before, routing).redirect is None
    unknown = replace(before, token_source=TokenSource.UNKNOWN)
    plan = plan_retry(unknown, settings(tracker_token="new-token").routing())
    assert plan.redirect is None
    assert "queued before hookrelay recorded" in plan.explanation


def test_a_retry_onto_a_commit_already_delivered_is_refused(store: QueueStore) -> None:
    """When today's token already delivered the commit, the dead letter stays dead."""
    old, new = (
        settings().routing(),
        settings(tracker_token="new-token").routing(),
    )
    delivery_id = dead(store, old)
    store.enqueue(plan_push(push(), new).deliveries, now=3.0)
    (leased,) = store.lease(now=4.0, limit=1, lease_seconds=60)
    store.mark_delivered(leased, now=4.5)
    (report,) = retry_deliveries(store, new, [delivery_id], now=5.0)
    assert report.outcome is RetryOutcome.ALREADY_QUEUED
    assert "already has this commit" in report.line()
    reports = retry_deliveries(store, new, [leased.id, 999], now=5.0)
    assert [r.outcome for r in reports] == [RetryOutcome.NOT_RETRYABLE] * 2
    assert "would post the commit twice" in reports[0].line()
    assert "no such delivery" in reports[1].line()


def test_ingested_commits_keep_their_token() -> None:
    """A commit posted to the Tracker-compatible ingest is marked as bringing its own token."""
    commit = SourceCommit(commit_id="7", message="[#1] x", author="a")
    plan = plan_source_commit(commit, settings().routing(), token="ingest-token")
    assert plan.deliveries[0].token_source is TokenSource.COMMIT
    assert plan.deliveries[0].story_ids == (1,)


def test_with_no_tracker_configured_a_retry_goes_to_serves_built_in_emulator() -> None:
    """The CLI retries as serve delivers: to its emulator at its own address, demo token."""
    routing = routing_of_serve(Settings.model_validate({"port": 8123}))
    assert routing.default.target.base_url == "http://127.0.0.1:8123/emulator/services/v5"
    assert routing.default.token == "hookrelay-demo-token"
