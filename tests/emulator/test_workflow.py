"""Rule 7 of PRODUCT.md: what a commit's action does to a story's state."""

from __future__ import annotations

import pytest

from hookrelay.core.messages import Action
from hookrelay.emulator.workflow import STORY_STATES, STORY_TYPES, next_state

START, FINISH, DELIVER = Action.START, Action.FINISH, Action.DELIVER

RULES = [
    ("feature", "unstarted", START, "started"),
    ("feature", "unscheduled", START, "started"),
    ("feature", "started", START, "started"),
    ("feature", "finished", START, "finished"),
    ("feature", "unstarted", FINISH, "finished"),
    ("feature", "started", FINISH, "finished"),
    ("feature", "rejected", FINISH, "finished"),
    ("feature", "delivered", FINISH, "delivered"),
    ("feature", "accepted", FINISH, "accepted"),
    ("feature", "unstarted", DELIVER, "delivered"),
    ("feature", "finished", DELIVER, "delivered"),
    ("feature", "accepted", DELIVER, "accepted"),
    ("bug", "unstarted", START, "started"),
    ("bug", "started", FINISH, "finished"),
    ("bug", "finished", DELIVER, "delivered"),
    ("chore", "unstarted", START, "started"),
    ("chore", "unstarted", FINISH, "accepted"),
    ("chore", "started", FINISH, "accepted"),
    ("chore", "started", DELIVER, "accepted"),
    ("chore", "accepted", START, "accepted"),
    ("release", "unstarted", START, "unstarted"),
    ("release", "unstarted", FINISH, "unstarted"),
    ("release", "unstarted", DELIVER, "unstarted"),
]


@pytest.mark.parametrize(
    ("story_type", "current", "action", "expected"),
    RULES,
    ids=[f"{t}-{c}-{a.label}" for t, c, a, _ in RULES],
)
def test_rule_7(story_type: str, current: str, action: Action, expected: str) -> None:
    """Start starts what is not started, finish finishes (chores accepted), deliver delivers."""
    assert next_state(story_type, current, action) == expected  # type: ignore[arg-type]


_ORDER = {state: rank for rank, state in enumerate(STORY_STATES)}
_ORDER["rejected"] = _ORDER["started"]  # rejected work is back in progress


@pytest.mark.parametrize("story_type", STORY_TYPES)
@pytest.mark.parametrize("current", STORY_STATES)
@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.label)
def test_no_commit_moves_a_story_backwards(story_type: str, current: str, action: Action) -> None:
    """Whatever the story and action, a commit never moves a story to an earlier state."""
    after = next_state(story_type, current, action)  # type: ignore[arg-type]
    assert after == current or _ORDER[after] > _ORDER[current]
