"""The commit-message parser follows PRODUCT.md's seven rules exactly, and never raises."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookrelay.core.messages import (
    Action,
    StoryRef,
    names_a_story,
    parse_message,
    parse_message_by_tokens,
)
from tests.conftest import real_commit_messages

S, F, D = Action.START, Action.FINISH, Action.DELIVER

CASES = [
    # rule 1: groups are innermost brackets; text outside is ignored
    ("plain mention", "[#123] Torpedoes", [(123, S)]),
    ("no brackets", "Fixes #123", []),
    ("outside text ignored", "Finishes #1 [#2]", [(2, S)]),
    ("unclosed group", "[Fixes #123", []),
    ("unopened group", "Fixes #123]", []),
    ("innermost of nested", "[Fixes [#7] #8]", [(7, S)]),
    ("stray open bracket", "[#1 [#2 fixed]", [(2, F)]),
    ("empty group", "[] []", []),
    ("group over lines", "[Finishes\n#5]", [(5, F)]),
    ("CRLF body", "Subject\r\n\r\n[Fixes #9]\r\n", [(9, F)]),
    # rule 2: whitespace, commas and & separate tokens
    ("several ids with spaces", "[Fixes #123 #456]", [(123, F), (456, F)]),
    ("commas", "[#1,#2, #3]", [(1, S), (2, S), (3, S)]),
    ("ampersand", "[finishes #1&#2 & #3]", [(1, F), (2, F), (3, F)]),
    ("tabs", "[finishes\t#4]", [(4, F)]),
    # rule 3: an ID is #…, ASCII digits, optional trailing #
    ("doubled hash", "[##123]", [(123, S)]),
    ("trailing hash", "[#123#]", [(123, S)]),
    ("glued letters", "[#12ab]", []),
    ("repo reference", "[repo#12]", []),
    ("bare number", "[Finishes 123]", []),
    ("non-ASCII digits", "[#\u0661\u0662\u0663]", []),
    ("fullwidth digits", "[#\uff11\uff12]", []),
    ("hash alone", "[# finishes]", []),
    ("leading zeros", "[#00042]", [(42, S)]),
    ("verb glued to id", "[finishes#12]", []),
    # rule 4: verbs, case-insensitive, surrounding punctuation and # stripped
    ("verb before ids", "[Finishes #7]", [(7, F)]),
    ("verb after ids", "[#7 finished]", [(7, F)]),
    ("fix family", "[fix #1][FIXES #2][Fixed #3][fixing #4]", [(1, F), (2, F), (3, F), (4, F)]),
    (
        "complete family",
        "[complete #1][completes #2][completed #3][completing #4]",
        [(1, F), (2, F), (3, F), (4, F)],
    ),
    (
        "finish family",
        "[finish #1][finishes #2][finished #3][finishing #4]",
        [(1, F), (2, F), (3, F), (4, F)],
    ),
    (
        "deliver family",
        "[deliver #1][delivers #2][delivered #3][delivering #4]",
        [(1, D), (2, D), (3, D), (4, D)],
    ),
    ("verb with colon", "[Finishes: #5]", [(5, F)]),
    ("verb in parentheses", "[(delivers) #5]", [(5, D)]),
    ("verb with hash", "[#finishes #5]", [(5, F)]),
    ("typo is no verb", "[finshes #4]", [(4, S)]),
    ("other word is no verb", "[Closes #4]", [(4, S)]),
    ("verb inside a word", "[refinishes #4]", [(4, S)]),
    ("uppercase verb", "[DELIVERS #4]", [(4, D)]),
    # rule 5: the group's strongest verb applies to all its IDs
    ("deliver beats finish in a group", "[Fixes #1 delivers #2]", [(1, D), (2, D)]),
    ("finish applies to all ids", "[#1 #2 finished]", [(1, F), (2, F)]),
    # rule 6: strongest action across groups; first-appearance order
    ("strongest across groups", "[#1] [Fixes #1]", [(1, F)]),
    ("weaker later group keeps stronger", "[Delivers #1] [#1]", [(1, D)]),
    ("adjacent groups", "[#1][fixes #2][#3]", [(1, S), (2, F), (3, S)]),
    ("order of first appearance", "[#3] [#1] [Delivers #3 #2]", [(3, D), (1, S), (2, D)]),
    ("same id twice in a group", "[#5 #5 fixed]", [(5, F)]),
    # the product's own examples
    ("product example", "[Finishes #12345678] Torpedoes powered", [(12345678, F)]),
    ("markdown link is a group", "[#123](https://tracker/story/123)", [(123, S)]),
]


@pytest.mark.parametrize(("message", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rules(message: str, expected: list[tuple[int, Action]]) -> None:
    """Each rule of Tracker's syntax, and its edges, gives the documented stories and actions."""
    assert parse_message(message) == tuple(StoryRef(i, a) for i, a in expected)


def test_huge_id_names_nothing_and_does_not_raise() -> None:
    """An ID with more digits than Python will convert names no story instead of raising."""
    assert parse_message("[#" + "9" * 5000 + " #1]") == (StoryRef(1, Action.START),)


def test_every_real_message_parses() -> None:
    """None of the 3,702 real Cloud Foundry messages makes the parser raise."""
    messages = real_commit_messages()
    assert len(messages) == 3702
    named = [parse_message(m["message"]) for m in messages]
    # the corpus is known to have ~800 messages naming no story and the rest naming one or more
    assert 600 < sum(1 for stories in named if not stories) < 1000


REAL_SAMPLES = [
    (
        "two ids, comma",
        "Added map route command [#57765936, #58082428]\n",
        [(57765936, S), (58082428, S)],
    ),
    ("fixes on own line", "Added login\n[Fixes #56641960]\n", [(56641960, F)]),
    ("typo finsihes", "Do thing [finsihes #1234]", [(1234, S)]),
    ("bare second id", "[Finishes #123, 456]", [(123, F)]),
    ("github ref group", "Bump [cloudfoundry/routing-release#12]", []),
]


@pytest.mark.parametrize(
    ("message", "expected"), [c[1:] for c in REAL_SAMPLES], ids=[c[0] for c in REAL_SAMPLES]
)
def test_real_shapes(message: str, expected: list[tuple[int, Action]]) -> None:
    """Shapes seen in the real corpus (comma lists, typos, repository references) read as the rules say."""
    assert parse_message(message) == tuple(StoryRef(i, a) for i, a in expected)


_GROUP = re.compile(r"\[([^\[\]]*)\]")


@given(st.text())
def test_never_raises_on_any_text(message: str) -> None:
    """Any text at all, surrogates and control characters included, parses without raising."""
    assert isinstance(parse_message(message), tuple)


tracker_like = st.lists(
    st.one_of(
        st.sampled_from(["[", "]", "#", "##", " ", ",", "&", "\n", "fixes", "Delivers", "x"]),
        st.integers(min_value=0, max_value=10**9).map(str),
        st.text(max_size=3),
    ),
    max_size=30,
).map("".join)


@given(tracker_like)
def test_every_id_is_inside_a_group(message: str) -> None:
    """Every story returned appears as an ID token inside a bracket group of the input, once."""
    stories = parse_message(message)
    assert len({s.id for s in stories}) == len(stories)
    groups = _GROUP.findall(message)
    for story in stories:
        assert any(
            re.search(rf"(?:^|[\s,&])#+0*{story.id}#*(?=$|[\s,&])", group) for group in groups
        ), (story, groups)


def test_fast_path_agrees_with_token_reading_on_every_real_message() -> None:
    """On all 3,702 real messages the fast path gives exactly what reading every token gives."""
    messages = [m["message"] for m in real_commit_messages()]
    assert len(messages) == 3702
    differing = [m for m in messages if parse_message(m) != parse_message_by_tokens(m)]
    assert differing == []
    # What the receiver asks of a push's commits before answering: the same rule, answered early.
    assert [m for m in messages if names_a_story(m) != bool(parse_message(m))] == []


FAST_PATH_EDGES = [
    ("lone id", "[#123]"),
    ("word and id", "[Finishes #123]"),
    ("mixed-case verb", "[FiNiShEd #4]"),
    ("word that is no verb", "[Closes #4]"),
    ("18 digits", "[#" + "9" * 18 + "]"),
    ("19 digits", "[#" + "9" * 19 + "]"),
    ("5000 digits", "[Fixes #" + "9" * 5000 + "]"),
    ("two spaces", "[Fixes  #1]"),
    ("tab", "[Fixes\t#1]"),
    ("non-ASCII word", "[Fixés #1]"),
    ("Kelvin sign in verb", "[\u212aFIXES #1] [fi\u212ces #2]"),
    ("no hash groups around", "[WIP] [#1] [skip ci] [Fixes #1]"),
    ("id then weaker group", "[Delivers #1] [#1] [fixes #1]"),
    ("nested", "[[#1] [fixes #2]]"),
    ("stray brackets", "[#1 [#2] ] [ #3]"),
    ("empty and hash only", "[] [#] [##] [#1#]"),
]


@pytest.mark.parametrize(
    "message", [e[1] for e in FAST_PATH_EDGES], ids=[e[0] for e in FAST_PATH_EDGES]
)
def test_fast_path_edges(message: str) -> None:
    """Where the fast path's shapes end (digit caps, spacing, case, non-ASCII), it agrees with
    reading every token."""
    assert parse_message(message) == parse_message_by_tokens(message)
    assert names_a_story(message) is bool(parse_message_by_tokens(message))


fast_shapes = st.lists(
    st.one_of(
        st.sampled_from(["[#", "]", "[", " #", "#", " ", ",", "[Fixes #", "[DELIVERED #", "[wip]"]),
        st.sampled_from(["finishes", "Fix", "deliver", "closes", "\u212a", "\u0131", "é"]),
        st.integers(min_value=0, max_value=10**20).map(str),
        st.text(max_size=3),
    ),
    max_size=30,
).map("".join)


@given(st.one_of(st.text(), tracker_like, fast_shapes))
def test_fast_path_agrees_with_token_reading(message: str) -> None:
    """For any text, the fast path and reading every token name the same stories, in the same
    order, with the same actions; and ``names_a_story`` says whether they name any."""
    assert parse_message(message) == parse_message_by_tokens(message)
    assert names_a_story(message) is bool(parse_message_by_tokens(message))
