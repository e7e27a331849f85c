"""Reading back a v5 ``source_commit`` an old hook script built by interpolation.

The JSON half of ``hookrelay.core.repair`` (whose ``Repair`` names what was repaired), tested
with it in ``tests/core/test_repair.py``. ``repair_v5_json`` reads ``{"source_commit": {…}}``
whose keys are the same four, each once, with string, number or ``null`` values. A string ends
at the first ``"`` followed by ``,`` and a key, or by the end of the object (a text holding
``", "author": "`` is cut there, and the body then refused or the text cut, as with XML). Valid
JSON escapes are decoded (so a text holding ``\\n`` as two characters cannot be told from a line
break, as with any JSON reader); any other backslash, a raw ``"`` and raw control characters are
the characters they are.
"""

from __future__ import annotations

import re

from hookrelay.core.repair import FIELDS, KNOWN_NAMES, Repair, Repaired, decode_body
from hookrelay.exceptions import PayloadError

__all__ = ["repair_v5_json"]

_JSON_ROOT = re.compile(r'\A\s*\{\s*"source_commit"\s*:\s*\{(?P<inner>.*)\}\s*\}\s*\Z', re.DOTALL)
_JSON_KEY = re.compile(rf'"(?P<name>{KNOWN_NAMES})"\s*:\s*')
_JSON_SCALAR = re.compile(r"null|true|false|-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# Any key, not only the known ones: an unknown key is then refused rather than swallowed.
_JSON_STRING_END = re.compile(r'"(?=\s*(?:,\s*"[A-Za-z_][A-Za-z0-9_]*"\s*:|\Z))')
_JSON_SEPARATOR = re.compile(r"\s*(?:,\s*|\Z)")
_JSON_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_JSON_SPECIAL = re.compile('[\\\\"\x00-\x1f]')


def repair_v5_json(body: bytes) -> Repaired:
    """Recover the fields of a v5 ``{"source_commit": {…}}`` that an interpolating script broke."""
    repairs: list[Repair] = []
    text = decode_body(body, repairs)
    root = _JSON_ROOT.match(text)
    if root is None:
        raise PayloadError('body is not recognisably a {"source_commit": {…}} object')
    inner = root.group("inner").strip()
    values: dict[str, str] = {}
    position = 0
    while position < len(inner):
        key = _JSON_KEY.match(inner, position)
        if key is None:
            raise PayloadError(
                f"source_commit holds something other than {', '.join(FIELDS)}"
                f" at character {position}"
            )
        name = key.group("name")
        if name in values:
            raise PayloadError(f"source_commit has {name!r} twice")
        position = key.end()
        if inner.startswith('"', position):
            end = _JSON_STRING_END.search(inner, position + 1)
            if end is None:
                raise PayloadError(f"source_commit.{name} is never closed")
            values[name] = _json_text(inner[position + 1 : end.start()], repairs)
            position = end.end()
        else:
            scalar = _JSON_SCALAR.match(inner, position)
            if scalar is None:
                raise PayloadError(f"source_commit.{name} is not a string")
            values[name] = "" if scalar.group(0) == "null" else scalar.group(0)
            position = scalar.end()
        separator = _JSON_SEPARATOR.match(inner, position)
        if separator is None:
            raise PayloadError(f"source_commit.{name} is followed by something unexpected")
        position = separator.end()
    return Repaired(values, tuple(dict.fromkeys(repairs)))


def _json_text(raw: str, repairs: list[Repair]) -> str:
    """The text a JSON string's raw content means (see the module's rules)."""
    out: list[str] = []
    position = 0
    length = len(raw)
    while position < length:
        special = _JSON_SPECIAL.search(raw, position)
        if special is None:
            out.append(raw[position:])
            break
        out.append(raw[position : special.start()])
        position = special.start()
        char = raw[position]
        if char == "\\" and position + 1 < length:
            escape = raw[position + 1]
            if escape in _JSON_ESCAPES:
                out.append(_JSON_ESCAPES[escape])
                position += 2
                continue
            if escape == "u" and _HEX4.fullmatch(raw, position + 2, position + 6):
                out.append(_utf16(raw, position))
                position += 12 if _is_pair(raw, position) else 6
                continue
            repairs.append(Repair.STRAY_BACKSLASH)
        elif char == "\\":
            repairs.append(Repair.STRAY_BACKSLASH)
        elif char == '"':
            repairs.append(Repair.BARE_QUOTE)
        elif char < " ":
            repairs.append(Repair.CONTROL_CHARACTER)
        out.append(char)
        position += 1
    return "".join(out)


def _is_pair(raw: str, position: int) -> bool:
    high = int(raw[position + 2 : position + 6], 16)
    return (
        0xD800 <= high < 0xDC00
        and raw.startswith("\\u", position + 6)
        and _HEX4.fullmatch(raw, position + 8, position + 12) is not None
        and 0xDC00 <= int(raw[position + 8 : position + 12], 16) < 0xE000
    )


def _utf16(raw: str, position: int) -> str:
    high = int(raw[position + 2 : position + 6], 16)
    if _is_pair(raw, position):
        low = int(raw[position + 8 : position + 12], 16)
        return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    return chr(high)  # a lone surrogate: sanitising turns it into U+FFFD
