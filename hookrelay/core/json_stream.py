"""Reading a big JSON object from bytes without its whole text and its whole tree at once.

``json.loads`` on a 25 MB push holds the body, a decoded copy of it and the full tree of
dicts together (about 4x the body). ``read_object`` decodes the bytes a window at a time and
hands each element of one array member (a push's ``commits``) to a converter as soon as it is
parsed, so only the converted values are kept. Every value is still parsed by the standard
library's decoder (``JSONDecoder.raw_decode``); this module only walks the outer object and
that one array, and says ``not valid JSON`` for anything it does not expect there.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Mapping
from typing import Any

from hookrelay.exceptions import PayloadError

__all__ = ["read_object"]

_WINDOW = 1024 * 1024
_WHITESPACE = " \t\n\r"


class _Text:
    """The body decoded a window at a time, with a read position."""

    def __init__(self, body: bytes, decoder: json.JSONDecoder, window: int) -> None:
        self._window = window
        self._body = body
        self._offset = 0
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._decoder = decoder
        self.buffer = ""
        self.pos = 0
        self._fill(window)

    @property
    def exhausted(self) -> bool:
        return self._offset >= len(self._body)

    def _fill(self, size: int) -> bool:
        if self.exhausted:
            return False
        chunk = self._body[self._offset : self._offset + size]
        self._offset += len(chunk)
        # Drop what was read already: only the unread part of the window is kept.
        self.buffer = self.buffer[self.pos :] + self._utf8.decode(chunk, final=self.exhausted)
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end)."""
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buffer) or not self._fill(self._window):
                return self.buffer[self.pos : self.pos + 1]

    def expect(self, characters: str) -> str:
        """Take the next character, which must be one of ``characters``."""
        found = self.peek()
        if not found or found not in characters:
            where = f"{found!r}" if found else "the end"
            raise PayloadError(f"body is not valid JSON: expected {characters!r}, found {where}")
        self.pos += 1
        return found

    def value(self) -> Any:
        """The next JSON value, however many windows it spans."""
        self.peek()
        size = self._window
        while True:
            try:
                value, end = self._decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as exc:
                if not self._fill(size):
                    raise PayloadError(f"body is not valid JSON: {exc}") from exc
                size *= 2
                continue
            # A value ending with the window may go on in the next one: a number may be
            # cut at "1", "1." or "1e+" (two characters the parser leaves unread).
            if end >= len(self.buffer) - 2 and self._fill(size):
                size *= 2
                continue
            self.pos = end
            return value


def read_object(
    body: bytes,
    *,
    stream: str,
    convert: Callable[[Any, int, Mapping[str, Any]], Any],
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
    window: int = _WINDOW,
) -> dict[str, Any]:
    """The JSON object in ``body`` (UTF-8), its ``stream`` array converted element by element.

    ``convert(element, index, members_so_far)`` is called as each element of the ``stream``
    member is parsed; the result holds the list of what it returned. ``window`` is how many
    bytes are decoded at a time. ``PayloadError`` when the body is not a JSON object;
    ``UnicodeDecodeError`` when it is not UTF-8.
    """
    decoder = json.JSONDecoder(object_pairs_hook=object_pairs_hook)
    text = _Text(body, decoder, window)
    if text.peek() != "{":
        raise PayloadError("body is not a JSON object")
    text.expect("{")
    members: dict[str, Any] = {}
    if text.peek() == "}":
        text.expect("}")
    else:
        while True:
            key = text.value()
            if not isinstance(key, str):
                raise PayloadError("body is not valid JSON: an object key is not a string")
            text.expect(":")
            if key == stream and text.peek() == "[":
                members[key] = _stream_array(text, convert, members)
            else:
                members[key] = text.value()
            if text.expect(",}") == "}":
                break
    if text.peek():
        raise PayloadError("body is not valid JSON: extra data after the object")
    return members


def _stream_array(
    text: _Text, convert: Callable[[Any, int, Mapping[str, Any]], Any], members: dict[str, Any]
) -> list[Any]:
    text.expect("[")
    converted: list[Any] = []
    if text.peek() == "]":
        text.expect("]")
        return converted
    while True:
        converted.append(convert(text.value(), len(converted), members))
        if text.expect(",]") == "]":
            return converted
