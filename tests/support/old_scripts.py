"""The bodies old hook scripts build by interpolation, byte for byte, and hostile messages for them.

Each style is what one kind of script sends for a message, an author and a commit id, written
out in Python so a test can build the body without the interpreter (``tests/core/test_repair.py``
checks the shell ones against a real ``bash`` and ``dash``):

=================  ===============================================================================
style              the script
=================  ===============================================================================
``printf``         ``printf '<source_commit><message>%s</message>…' "$MESSAGE" …``: raw bytes
``sh``             ``"<source_commit><message>$MESSAGE</message>…"`` in ``sh``: raw bytes too
``sh-sed``         ``sed -e 's/&/\\&amp;/g' -e 's/</\\&lt;/g' -e 's/>/\\&gt;/g'``: correct
``bash-5.2``       Tracker's documented ``${M//&/&amp;}; ${M//</&lt;}; ${M//>/&gt;}`` under bash
                   5.2, where ``&`` in the replacement is the match: ``<`` becomes ``<lt;``
``ruby``           ``"<source_commit><message>#{message}</message>…"``: raw
``cdata``          ``"<message><![CDATA[$MESSAGE]]></message>…"``: safe until a message holds ``]]>``
``sh-json``        ``"{\\"source_commit\\":{\\"commit_id\\":\\"$REV\\",\\"message\\":\\"$MESSAGE\\"…}}"``
``ruby-json``      ``%Q({"source_commit":{"message":"#{message.gsub('"', '\\"')}",…}})``: quotes
                   escaped, nothing else
=================  ===============================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "HOSTILE_MESSAGES",
    "STYLES",
    "UNCARRIABLE",
    "Style",
    "bash52_escape",
    "cases",
    "sed_escape",
]


def bash52_escape(message: bytes) -> bytes:
    """``M=${M//&/&amp;}; M=${M//</&lt;}; M=${M//>/&gt;}`` as bash 5.2 runs it."""
    return message.replace(b"&", b"&amp;").replace(b"<", b"<lt;").replace(b">", b">gt;")


def sed_escape(message: bytes) -> bytes:
    """``sed -e 's/&/\\&amp;/g' -e 's/</\\&lt;/g' -e 's/>/\\&gt;/g'`` (line by line, same bytes)."""
    return message.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")


def _xml(escape: Callable[[bytes], bytes]) -> Callable[[bytes, bytes, bytes], bytes]:
    def build(message: bytes, author: bytes, commit_id: bytes) -> bytes:
        return (
            b"<source_commit><message>"
            + escape(message)
            + b"</message><author>"
            + escape(author)
            + b"</author><commit_id>"
            + commit_id
            + b"</commit_id></source_commit>"
        )

    return build


def _json(escape: Callable[[bytes], bytes]) -> Callable[[bytes, bytes, bytes], bytes]:
    def build(message: bytes, author: bytes, commit_id: bytes) -> bytes:
        return (
            b'{"source_commit":{"commit_id":"'
            + commit_id
            + b'","message":"'
            + escape(message)
            + b'","author":"'
            + escape(author)
            + b'"}}'
        )

    return build


def _raw(value: bytes) -> bytes:
    return value


@dataclass(frozen=True)
class Style:
    """One script's way of building a body, and the API version it posts to."""

    name: str
    version: str
    build: Callable[[bytes, bytes, bytes], bytes]


STYLES = (
    Style("printf", "v3", _xml(_raw)),
    Style("sh", "v3", _xml(_raw)),
    Style("sh-sed", "v3", _xml(sed_escape)),
    Style("bash-5.2", "v3", _xml(bash52_escape)),
    Style("ruby", "v3", _xml(_raw)),
    Style("cdata", "v3", _xml(lambda m: b"<![CDATA[" + m + b"]]>")),
    Style("sh-json", "v5", _json(_raw)),
    Style("ruby-json", "v5", _json(lambda m: m.replace(b'"', b'\\"'))),
)

# Messages holding what broke old scripts. (In JSON a backslash before one of JSON's escape
# letters reads as that escape, as with any JSON reader: these use backslashes before others.)
HOSTILE_MESSAGES: dict[str, bytes] = {
    "ampersand": b"[#{story}] R&D & friends",
    "angle brackets": b"[#{story}] if a < b && c > d then <b>bold</b>",
    "quotes": b"[#{story}] say \"hi\" and 'bye'",
    "backslash": b"[#{story}] C:\\Users\\Me and a \\ alone",
    "backticks and $()": b"[#{story}] `rm -rf /` and $(reboot) and ${HOME}",
    "crlf": b"[#{story}] first line\r\nsecond line\r\n",
    "lf and tabs": b"[#{story}] col1\tcol2\n\n\tindented",
    "emoji": "[#{story}] shipped 🚀 ✓ naïve".encode(),
    "latin-1 bytes": b"[#{story}] caf\xe9 cr\xe8me",
    "cdata end": b"[#{story}] ]]> and <![CDATA[ open",
    "everything": b"[#{story}] & < > \" ' \\ ` $(x) \r\n\t ]]> \xf0\x9f\x8e\x89",
}

# What a style cannot carry at all: the body it builds is well-formed and means another text.
UNCARRIABLE = {
    ("cdata", "cdata end"): "the message closes the script's CDATA and opens a new one",
}


def cases() -> list[tuple[Style, str, bytes]]:
    """Every style with every hostile message it can carry, as (style, message name, message)."""
    return [
        (style, name, message)
        for style in STYLES
        for name, message in HOSTILE_MESSAGES.items()
        if (style.name, name) not in UNCARRIABLE
    ]
