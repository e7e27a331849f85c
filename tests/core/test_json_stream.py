"""Reading a big JSON object a window at a time gives what json.loads gives."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookrelay.core.json_stream import read_object
from hookrelay.exceptions import PayloadError


def _keep(item: Any, index: int, members: Mapping[str, Any]) -> Any:
    return item


def _read(body: bytes, window: int) -> dict[str, Any]:
    return read_object(body, stream="commits", convert=_keep, window=window)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(
    members=st.dictionaries(st.text(), JSON_VALUES, max_size=5),
    commits=st.lists(JSON_VALUES, max_size=6),
    window=st.integers(min_value=1, max_value=40),
    spaced=st.booleans(),
)
def test_any_object_reads_as_json_loads_reads_it(
    members: dict[str, Any], commits: list[Any], window: int, spaced: bool
) -> None:
    """Whatever the window (down to one byte, splitting characters), the result is json.loads'."""
    document = {**members, "commits": commits}
    body = json.dumps(document, ensure_ascii=False, indent=1 if spaced else None).encode()
    assert _read(body, window) == json.loads(body)


def test_each_commit_is_converted_as_it_is_read_with_the_members_before_it() -> None:
    """The converter sees each element, its index and the members read so far."""
    body = b'{"ref": "refs/heads/main", "commits": [{"id": "a"}, {"id": "b"}], "after": "x"}'
    seen = []

    def convert(item: Any, index: int, members: Mapping[str, Any]) -> Any:
        seen.append((index, dict(members)))
        return item["id"]

    result = read_object(body, stream="commits", convert=convert, window=3)
    assert result == {"ref": "refs/heads/main", "commits": ["a", "b"], "after": "x"}
    assert seen == [(0, {"ref": "refs/heads/main"}), (1, {"ref": "refs/heads/main"})]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[1, 2]", "not a JSON object"),
        (b"", "not a JSON object"),
        (b'{"commits": [1, 2', "not valid JSON"),
        (b'{"commits": [1, 2]', "not valid JSON"),
        (b'{"a": 1} {"b": 2}', "extra data"),
        (b'{1: 2}', "not valid JSON"),
        (b'{"a" 1}', "not valid JSON"),
        (b'{"a": tru}', "not valid JSON"),
        (b'{"commits": [1,, 2]}', "not valid JSON"),
    ],
    ids=["array", "empty", "cut-in-array", "cut-after-array", "two-objects", "number-key",
         "no-colon", "bad-literal", "double-comma"],
)  # fmt: skip
def test_what_is_not_one_json_object_is_refused(body: bytes, reason: str) -> None:
    """Anything but one well-formed object is a PayloadError saying so."""
    with pytest.raises(PayloadError, match=reason):
        _read(body, 4)


def test_bytes_that_are_not_utf8_are_left_to_the_caller() -> None:
    """A body that is not UTF-8 raises UnicodeDecodeError, for the caller's fallback."""
    with pytest.raises(UnicodeDecodeError):
        _read(b'{"commits": ["\xff"]}', 4)
