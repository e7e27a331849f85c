"""Shared fixtures: where the recorded real data lives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The folder of recorded real payloads and commit messages."""
    return FIXTURES


def load_json(relative: str) -> Any:
    """A recorded JSON payload, by its path under tests/fixtures."""
    return json.loads((FIXTURES / relative).read_text(encoding="utf-8"))


def real_commit_messages() -> list[dict[str, str]]:
    """The 3,702 real commit messages from Cloud Foundry repositories."""
    path = FIXTURES / "commit-messages" / "cloudfoundry.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
