"""What a commit does to a story's state: PRODUCT.md rule 7, as one table.

Theory of operation (Tracker's "SCM Post-Commit Message Syntax", API v3 and v5 documentation):

* a story named with no verb is *started*, if it was not started yet;
* *finish* (fix/complete/finish) moves a feature or bug to ``finished`` and a chore to
  ``accepted`` (a chore has no finished or delivered state);
* *deliver* moves a feature or bug to ``delivered``; a chore, which cannot be delivered, is
  accepted as for *finish*, since deliver is the stronger verb;
* a release is never moved by a commit;
* no action moves a story backwards: a mention of a finished story leaves it finished.

``next_state`` is pure; the emulator's world applies it under its own lock.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from hookrelay.core.messages import Action

__all__ = ["STORY_STATES", "STORY_TYPES", "StoryState", "StoryType", "next_state"]

StoryType = Literal["feature", "bug", "chore", "release"]
StoryState = Literal[
    "unscheduled",
    "unstarted",
    "planned",
    "started",
    "finished",
    "delivered",
    "rejected",
    "accepted",
]

# The Literals are the one list of types and states; these are them as tuples.
STORY_TYPES: Final[tuple[StoryType, ...]] = get_args(StoryType)
STORY_STATES: Final[tuple[StoryState, ...]] = get_args(StoryState)

_NOT_STARTED: Final[frozenset[StoryState]] = frozenset({"unscheduled", "unstarted", "planned"})
_BEFORE_FINISHED: Final[frozenset[StoryState]] = _NOT_STARTED | {"started", "rejected"}
_BEFORE_DELIVERED: Final[frozenset[StoryState]] = _BEFORE_FINISHED | {"finished"}

# (story type, action) -> (the states it applies from, the state it moves to)
_TRANSITIONS: Final[dict[tuple[StoryType, Action], tuple[frozenset[StoryState], StoryState]]] = {
    ("feature", Action.START): (_NOT_STARTED, "started"),
    ("feature", Action.FINISH): (_BEFORE_FINISHED, "finished"),
    ("feature", Action.DELIVER): (_BEFORE_DELIVERED, "delivered"),
    ("bug", Action.START): (_NOT_STARTED, "started"),
    ("bug", Action.FINISH): (_BEFORE_FINISHED, "finished"),
    ("bug", Action.DELIVER): (_BEFORE_DELIVERED, "delivered"),
    ("chore", Action.START): (_NOT_STARTED, "started"),
    ("chore", Action.FINISH): (_BEFORE_FINISHED, "accepted"),
    ("chore", Action.DELIVER): (_BEFORE_FINISHED, "accepted"),
}


def next_state(story_type: StoryType, current: StoryState, action: Action) -> StoryState:
    """The state a ``story_type`` story in ``current`` moves to when a commit takes ``action``."""
    rule = _TRANSITIONS.get((story_type, action))
    if rule is None:
        return current
    applies_from, target = rule
    return target if current in applies_from else current
