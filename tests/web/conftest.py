"""A real receiver for each test: uvicorn on loopback, a real SQLite queue in a temporary folder."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookrelay.core.signatures import sign
from hookrelay.metrics import RelayMetrics
from hookrelay.queue import QueueStore, State, open_store
from hookrelay.settings import Settings
from hookrelay.web import create_app
from tests.web.server import running_app

SECRET = "It's a Secret to Everybody"
TOKEN = "tracker-token-for-tests"
TARGET = "http://127.0.0.1:9/services/v5"


@dataclass(frozen=True)
class Receiver:
    """A running receiver: its HTTP client, its queue and its metrics."""

    url: str
    client: httpx.Client
    store: QueueStore
    metrics: RelayMetrics
    settings: Settings

    def queued(self) -> int:
        """How many deliveries the queue holds, whatever their state."""
        return sum(self.store.counts().values())

    def pending(self) -> list[Any]:
        """The pending deliveries, oldest first."""
        return list(reversed(self.store.list(state=State.PENDING, limit=1000)))


def github_headers(
    body: bytes, *, event: str = "push", secret: str | None = SECRET, **extra: str
) -> dict[str, str]:
    """Headers GitHub sends with a delivery, signed with ``secret`` when there is one."""
    headers = {"X-GitHub-Event": event, "Content-Type": "application/json", **extra}
    if secret is not None:
        headers["X-Hub-Signature-256"] = "sha256=" + sign(body, secret)
    return headers


def push_body(
    commits: list[dict[str, Any]], *, branch: str = "main", repository: str = "octo/cat"
) -> bytes:
    """A GitHub push with the fields hookrelay reads (built from the real payloads' shape)."""
    document = {
        "ref": f"refs/heads/{branch}",
        "before": "a" * 40,
        "after": commits[-1]["id"] if commits else "b" * 40,
        "created": False,
        "deleted": False,
        "forced": False,
        "repository": {"full_name": repository, "name": repository.rsplit("/", maxsplit=1)[-1]},
        "commits": commits,
    }
    return json.dumps(document).encode("utf-8")


def pushed_commit(sha: str, message: str, *, distinct: bool = True) -> dict[str, Any]:
    """One commit object as GitHub's push payload carries it."""
    return {
        "id": sha,
        "tree_id": "f" * 40,
        "distinct": distinct,
        "message": message,
        "timestamp": "2026-01-02T03:04:05Z",
        "url": f"https://github.com/octo/cat/commit/{sha}",
        "author": {"name": "Ada Lovelace", "email": "ada@example.org", "username": "ada"},
        "committer": {"name": "Ada Lovelace", "email": "ada@example.org", "username": "ada"},
        "added": [],
        "removed": [],
        "modified": ["README.md"],
    }


ReceiverFactory = Callable[..., AbstractContextManager[Receiver]]


@contextmanager
def start_receiver(folder: Path, **overrides: Any) -> Iterator[Receiver]:
    """Start a receiver whose queue lives in ``folder``; settings from keyword arguments."""
    values: dict[str, Any] = {
        "tracker_url": TARGET,
        "tracker_token": TOKEN,
        "github_secret": SECRET,
        "database_url": f"sqlite:///{folder / 'queue.db'}",
    }
    values.update(overrides)
    settings = Settings.model_validate(values)
    store = open_store(settings.database_url)
    metrics = RelayMetrics()
    try:
        with running_app(create_app(settings, store, metrics=metrics), settings) as server:
            yield Receiver(server.url, server.client, store, metrics, settings)
    finally:
        store.close()


@pytest.fixture
def make_receiver(tmp_path: Path) -> ReceiverFactory:
    """Start a receiver with settings built from keyword arguments (secret and token preset)."""
    return partial(start_receiver, tmp_path)


@pytest.fixture
def receiver(make_receiver: ReceiverFactory) -> Iterator[Receiver]:
    """A receiver with a webhook secret, a Tracker token and the default limits."""
    with make_receiver() as running:
        yield running
