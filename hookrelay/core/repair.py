"""Reading back what an old hook script meant, when it built a ``source_commit`` by interpolation.

Scripts of Tracker's era wrote their bodies with ``"<message>$MESSAGE</message>"`` or
``"{\\"message\\": \\"$MESSAGE\\"}"``: a message holding ``&``, ``<``, a quote, a backslash or a
line break made a body that is not XML or JSON. Tracker forgave many of them; these functions
recover the fields of a body that is *recognisably* a ``source_commit`` without an XML or JSON
parser, so the commit arrives as its author wrote it. No I/O; each returns the fields it read and
the names of what it had to repair, or raises ``PayloadError`` (400) with a one-line reason.

v3 XML (``repair_v3_xml``), after the caller refused DTDs, entity declarations and processing
instructions (``refuse_declarations``):

* the body is ``<source_commit>`` … ``</source_commit>`` holding only ``<message>``, ``<author>``,
  ``<commit_id>`` and ``<url>`` elements, each once, with only whitespace between them;
* an element's text ends at the first closing tag of its own name that is followed by another
  of those elements or by the end of the document. **A text that itself holds its own closing tag
  followed by such an element is therefore cut there**; what follows is read as the next
  elements, which is a 400 (an element twice, text between elements) or, at worst, a commit
  whose text ends where the closing tag stood. Never anything read from outside the body;
* ``&amp; &lt; &gt; &quot; &apos;`` and numeric references are decoded; any other ``&`` is a
  literal ``&``; a ``<`` that opens none of those tags (nor a CDATA section) is a literal ``<``;
  CDATA sections are their text; a raw ``]]>`` is text;
* ``<lt;`` and ``>gt;`` are what bash 5.2 makes of Tracker's documented ``${MESSAGE//</&lt;}``
  (``&`` in the replacement now means the match) and are read as the character meant; since
  that script also turns ``&`` into ``&amp;``, a message really holding ``<lt;`` arrives as
  ``<lt;lt;`` and is read back right. (Raw ``>gt;`` from a script that does not escape at all
  loses its ``gt;``: a price for every bash 5.2 script's ``>``.)
* an element whose whole content is one CDATA section (``<![CDATA[$MESSAGE]]>``) whose text
  holds ``]]>`` is that text;
* bytes that are not UTF-8 (nor the single-byte encoding the declaration names) become U+FFFD;
  CR is kept as sent (an XML parser would turn CRLF into LF).

v5 JSON is repaired the same way by ``hookrelay.core.repair_json``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from hookrelay.exceptions import PayloadError

__all__ = [
    "FIELDS",
    "KNOWN_NAMES",
    "Repair",
    "Repaired",
    "decode_body",
    "has_bash_doubling",
    "refuse_declarations",
    "repair_v3_xml",
]

FIELDS = ("message", "author", "commit_id", "url")


KNOWN_NAMES = "|".join(FIELDS)
"""The fields' names as a regular-expression alternation."""


class Repair(enum.StrEnum):
    """One kind of damage an interpolating script does, in the words the delivery list shows."""

    NOT_UTF8 = "bytes not UTF-8"
    BARE_AMPERSAND = "bare &"
    BARE_LT = "bare <"
    BARE_CDATA_END = "bare ]]>"
    BASH_DOUBLING = "bash 5.2 <lt; doubling"
    BARE_QUOTE = 'bare "'
    STRAY_BACKSLASH = "stray \\"
    CONTROL_CHARACTER = "raw control character"


@dataclass(frozen=True, slots=True)
class Repaired:
    """The fields read from a damaged body (absent ones missing) and what was repaired."""

    values: Mapping[str, str]
    repairs: tuple[Repair, ...]


_DECLARATION = re.compile(r"\A\ufeff?\s*<\?xml\s[^<>?]*\?>", re.IGNORECASE)
_ENCODING = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*<\?xml\s[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)"
)
_FORBIDDEN = re.compile(r"<!(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)|<\?", re.IGNORECASE)
_KNOWN = KNOWN_NAMES
_ROOT = re.compile(
    r"\A\s*<source_commit(?:\s[^<>]*)?>(?P<inner>.*)</source_commit>\s*\Z", re.DOTALL
)
_OPEN = re.compile(rf"<(?P<name>{_KNOWN})(?:\s[^<>]*?)?(?P<empty>/)?>")
_NAMED_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_REFERENCE = re.compile(
    r"&(?:(?P<name>amp|lt|gt|quot|apos)|#(?P<dec>[0-9]{1,7})|#x(?P<hex>[0-9a-fA-F]{1,6}));"
)
# Tracker's example escaped only & < >; a script that also escaped quotes under bash 5.2 would
# send "quot; and 'apos;, but undoing those would change text that really holds them.
_DOUBLED = {"<lt;": "<", ">gt;": ">"}
_DOUBLED_ANYWHERE = re.compile("<lt;|>gt;")
_XML_SPECIAL = re.compile(r"[&<>\]]")  # where the text may differ from the raw content


def decode_body(body: bytes, repairs: list[Repair]) -> str:
    """``body`` as text: the single-byte encoding its XML declaration names, else UTF-8;
    bytes that do not decode become U+FFFD (noted in ``repairs``)."""
    declared = _ENCODING.match(body)
    encoding = "utf-8"
    if declared is not None:
        try:
            encoding = declared.group(1).decode("ascii")
            b"".decode(encoding)
        except LookupError:
            encoding = "utf-8"
    try:
        return body.decode(encoding)
    except UnicodeDecodeError:
        repairs.append(Repair.NOT_UTF8)
        return body.decode(encoding, errors="replace")


def has_bash_doubling(body: bytes) -> bool:
    """Whether ``body`` holds what bash 5.2's ``${var//</&lt;}`` makes of ``<`` (``>``, quotes)."""
    return _DOUBLED_ANYWHERE.search(body.decode("utf-8", errors="replace")) is not None


def refuse_declarations(text: str) -> None:
    """``PayloadError`` if ``text`` holds a DTD, a declaration or a processing instruction
    anywhere but the XML declaration at its start: those are never repaired, only refused."""
    declaration = _DECLARATION.match(text)
    rest = text[declaration.end() :] if declaration is not None else text
    found = _FORBIDDEN.search(rest)
    if found is not None:
        raise PayloadError(
            "XML with a DTD, declarations or processing instructions is refused"
            f" ({found.group(0)!r})"
        )


def repair_v3_xml(body: bytes, *, well_formed: bool = False) -> Repaired:
    """Recover the fields of a v3 ``<source_commit>`` that an interpolating script broke.

    ``well_formed``: the body parsed as XML (it is read here for its CRs or bash doublings), so
    its CDATA sections are exactly what XML says they are.
    """
    repairs: list[Repair] = []
    text = decode_body(body, repairs)
    refuse_declarations(text)
    declaration = _DECLARATION.match(text)
    if declaration is not None:
        text = text[declaration.end() :]
    root = _ROOT.match(text.lstrip("\ufeff"))
    if root is None:
        raise PayloadError("body is not recognisably a <source_commit> … </source_commit>")
    inner = root.group("inner")
    values: dict[str, str] = {}
    position = 0
    while True:
        while position < len(inner) and inner[position].isspace():
            position += 1
        if position == len(inner):
            break
        opening = _OPEN.match(inner, position)
        if opening is None:
            raise PayloadError(
                f"<source_commit> holds something other than {', '.join(FIELDS)}"
                f" at character {position}"
            )
        name = opening.group("name")
        if name in values:
            raise PayloadError(f"<source_commit> has <{name}> twice")
        if opening.group("empty"):
            values[name] = ""
            position = opening.end()
            continue
        closing = _closing_tag(name).search(inner, opening.end())
        if closing is None:
            raise PayloadError(f"<{name}> is never closed")
        raw = inner[opening.end() : closing.start()]
        values[name] = _xml_text(raw, repairs, cdata_wrapped=not well_formed)
        position = closing.end()
    return Repaired(values, tuple(dict.fromkeys(repairs)))


def _closing_tag(name: str) -> re.Pattern[str]:
    return _CLOSING[name]


_CLOSING = {name: re.compile(rf"</{name}\s*>(?=\s*(?:<(?:{_KNOWN})[\s/>]|\Z))") for name in FIELDS}


def _xml_text(raw: str, repairs: list[Repair], *, cdata_wrapped: bool) -> str:
    """The text an element's raw content means (see the module's rules)."""
    if cdata_wrapped and _is_wrapped_in_cdata(raw):
        # <message><![CDATA[$MESSAGE]]></message>: a message holding ]]> broke the section.
        repairs.append(Repair.BARE_CDATA_END)
        return raw[9:-3]
    out: list[str] = []
    position = 0
    length = len(raw)
    while position < length:
        special = _XML_SPECIAL.search(raw, position)
        if special is None:
            out.append(raw[position:])
            break
        out.append(raw[position : special.start()])
        position = special.start()
        char = raw[position]
        if char == "&":
            reference = _REFERENCE.match(raw, position)
            if reference is not None and (decoded := _reference(reference)) is not None:
                out.append(decoded)
                position = reference.end()
                continue
            repairs.append(Repair.BARE_AMPERSAND)
        elif raw.startswith("<![CDATA[", position):
            end = raw.find("]]>", position + 9)
            if end >= 0:
                out.append(raw[position + 9 : end])
                position = end + 3
                continue
            repairs.append(Repair.BARE_LT)
        elif raw.startswith(("<lt;", ">gt;"), position):
            out.append(_DOUBLED[raw[position : position + 4]])
            repairs.append(Repair.BASH_DOUBLING)
            position += 4
            continue
        elif char == "<":
            repairs.append(Repair.BARE_LT)
        elif raw.startswith("]]>", position):
            repairs.append(Repair.BARE_CDATA_END)
        out.append(char)
        position += 1
    return "".join(out)


def _is_wrapped_in_cdata(raw: str) -> bool:
    """Whether ``raw`` (in a body that is not well formed) is one CDATA section a script
    wrapped round a text that holds ``]]>``."""
    return (
        raw.startswith("<![CDATA[")
        and raw.endswith("]]>")
        and len(raw) >= 12
        and "]]>" in raw[9:-3]
    )


def _reference(match: re.Match[str]) -> str | None:
    if match.group("name"):
        return _NAMED_ENTITIES[match.group("name")]
    number = int(match.group("dec")) if match.group("dec") else int(match.group("hex"), 16)
    if number == 0 or number > 0x10FFFF:
        return None
    return chr(number)
