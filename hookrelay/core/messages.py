"""Tracker's commit-message syntax: which stories a message names, and what it does to each.

Theory of operation (PRODUCT.md, "Tracker's commit-message syntax"):

1. A *group* is the text between ``[`` and the next ``]`` with no bracket inside (innermost
   brackets). Text outside groups is ignored.
2. A group's tokens are split on whitespace, commas and ``&``.
3. An *ID token* is one or more ``#``, ASCII digits, then optionally more ``#``.
4. A *verb token* (case-insensitive, surrounding punctuation and ``#`` stripped) is one of the
   fix/complete/finish family (→ finish) or the deliver family (→ deliver).
5. Every ID in a group takes the group's strongest verb: deliver > finish > start (no verb).
6. A story named in several groups takes its strongest action; stories are listed in order of
   first appearance.

The parser never raises on any ``str``: a message is user text, and a strange one must not stop a
commit from being relayed.
"""

from __future__ import annotations

import enum
import re
import string
from dataclasses import dataclass

__all__ = ["Action", "StoryRef", "names_a_story", "parse_message", "parse_message_by_tokens"]


class Action(enum.IntEnum):
    """What a commit does to a story; a larger value is a stronger action."""

    START = 1
    FINISH = 2
    DELIVER = 3

    @property
    def label(self) -> str:
        """The action's name as Tracker's documentation and our JSON spell it."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class StoryRef:
    """One story a commit message names, with the action the message takes on it."""

    id: int
    action: Action


_GROUP = re.compile(r"\[([^\[\]]*)\]")
_SEPARATORS = re.compile(r"[\s,&]+")
_ID_TOKEN = re.compile(r"#+([0-9]+)#*")
_STRIP = string.punctuation  # contains '#'

# The fast path. Most groups in real messages are ``[#123]`` or ``[Finishes #123]`` (a word of
# ASCII letters, one space, one ID), and most of the rest hold no ``#`` and so name nothing. One
# pattern reads the two common shapes from the match itself, skips groups with no ``#``, and
# yields any other group whole for ``_read_group``. Groups never overlap (each is bracket-free),
# so every match spans exactly a group ``_GROUP`` finds. IDs are capped at 18 digits so that
# ``int()`` cannot refuse them; longer ones take the general path.
_SCAN = re.compile(r"\[(?:#([0-9]{1,18})\]|([A-Za-z]+) #([0-9]{1,18})\]|([^\[\]#]*#[^\[\]]*)\])")


def _forms(stem: str) -> tuple[str, ...]:
    """The four inflections Tracker accepts: fix/fixes/fixed/fixing, complete/completes/…"""
    if stem.endswith("e"):
        return (stem, stem + "s", stem + "d", stem[:-1] + "ing")
    if stem.endswith(("sh", "x")):
        return (stem, stem + "es", stem + "ed", stem + "ing")
    return (stem, stem + "s", stem + "ed", stem + "ing")


_VERBS: dict[str, Action] = {
    word: action
    for stem, action in (
        ("fix", Action.FINISH),
        ("complete", Action.FINISH),
        ("finish", Action.FINISH),
        ("deliver", Action.DELIVER),
    )
    for word in _forms(stem)
}


def _verb(token: str) -> Action | None:
    return _VERBS.get(token.strip(_STRIP).lower())


_START = Action.START
_new = object.__new__
_set_id = vars(StoryRef)["id"].__set__  # the slots themselves
_set_action = vars(StoryRef)["action"].__set__


def _story_ref(story_id: int, action: Action) -> StoryRef:
    """``StoryRef(story_id, action)`` at half the cost: a frozen dataclass's ``__init__`` calls
    ``object.__setattr__`` per field, which is most of the fast path's time on real messages."""
    ref: StoryRef = _new(StoryRef)
    _set_id(ref, story_id)
    _set_action(ref, action)
    return ref


def _story_id(digits: str) -> int | None:
    # int() refuses more than sys.get_int_max_str_digits() (4300) digits; no Tracker story has
    # such an ID, and the parser must not raise, so such a token names nothing.
    try:
        return int(digits)
    except ValueError:
        return None


def parse_message(message: str) -> tuple[StoryRef, ...]:
    """Return the stories ``message`` names, in order of first appearance, each with its action."""
    if "#" not in message or "[" not in message:  # no ID token, or no group: nothing named
        return ()
    found = _SCAN.findall(message)
    if len(found) == 1:  # the commonest case by far: one group, read without a dict
        lone_id, word, worded_id, _ = found[0]
        if lone_id or worded_id:
            ref: StoryRef = _new(StoryRef)
            if lone_id:
                _set_id(ref, int(lone_id))
                _set_action(ref, _START)
            else:
                _set_id(ref, int(worded_id))
                _set_action(ref, _VERBS.get(word.lower(), _START))
            return (ref,)
    actions: dict[int, Action] = {}
    for lone_id, word, worded_id, other in found:
        if lone_id:
            story_id, action = int(lone_id), _START
        elif worded_id:
            story_id, action = int(worded_id), _VERBS.get(word.lower(), _START)
        else:
            _read_group(other, actions)
            continue
        previous = actions.get(story_id)
        if previous is None or action > previous:
            actions[story_id] = action
    return tuple([_story_ref(story_id, action) for story_id, action in actions.items()])


def names_a_story(message: str) -> bool:
    """Whether ``parse_message(message)`` names any story (``bool(parse_message(message))``),
    answered at the first group that names one, without building the references."""
    if "#" not in message or "[" not in message:
        return False
    for lone_id, _word, worded_id, other in _SCAN.findall(message):
        if lone_id or worded_id:
            return True
        actions: dict[int, Action] = {}
        _read_group(other, actions)
        if actions:
            return True
    return False


def _read_group(group: str, actions: dict[int, Action]) -> None:
    """Apply one group of any shape to ``actions``: rules 2 to 6, token by token."""
    ids: list[int] = []
    group_action = Action.START
    for token in _SEPARATORS.split(group):
        if not token:
            continue
        id_match = _ID_TOKEN.fullmatch(token)
        if id_match is not None:
            story_id = _story_id(id_match.group(1))
            if story_id is not None:
                ids.append(story_id)
            continue
        verb = _verb(token)
        if verb is not None and verb > group_action:
            group_action = verb
    for story_id in ids:
        previous = actions.get(story_id)
        if previous is None or group_action > previous:
            actions[story_id] = group_action


def parse_message_by_tokens(message: str) -> tuple[StoryRef, ...]:
    """``parse_message`` reading every group token by token, with no shortcut for common shapes.

    It is the rules written out plainly, kept as the oracle the fast path is tested against.
    """
    actions: dict[int, Action] = {}
    for group in _GROUP.finditer(message):
        _read_group(group.group(1), actions)
    return tuple(StoryRef(story_id, action) for story_id, action in actions.items())
