"""Reading ``source_commit`` bodies as Tracker received them (v3 XML, v5 JSON), leniently, safely.

Used by hookrelay's Tracker-compatible ingest endpoints and by the emulator. The order is fixed:

1. XML is parsed with ``defusedxml`` and ``forbid_dtd=True``: a DOCTYPE, an entity declaration
   or an external reference is refused (400), so nothing is ever read from disk or the network;
   a body that names a DTD, a declaration or a processing instruction is refused before any
   repair too. (The caller has already held the body to its size limit.)
2. A well-formed body is read as it is. A body that is not (or that holds bash 5.2's ``<lt;``
   doublings, or raw CRs an XML parser would fold) is read by ``hookrelay.core.repair`` when it
   is recognisably a ``source_commit``; the repairs made travel with the commit, so operators
   see which scripts to fix.
3. Anything else is a ``PayloadError`` (400) with a one-line reason; a well-formed document that
   is not a commit Tracker could take (another root, no ``commit_id``) is ``NotASourceCommit``
   (422), as Tracker answered it. A commit id longer than 255 characters or not printable is 400.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from hookrelay.core.repair import (
    FIELDS,
    Repair,
    Repaired,
    has_bash_doubling,
    refuse_declarations,
    repair_v3_xml,
)
from hookrelay.core.repair_json import repair_v5_json
from hookrelay.core.source_commit import SourceCommit, decode_text
from hookrelay.core.tracker_api import MAX_COMMIT_ID_LENGTH, is_usable_commit_id
from hookrelay.exceptions import NotASourceCommit, PayloadError

__all__ = [
    "FormPost",
    "Ingested",
    "ingest_form",
    "ingest_v3_xml",
    "ingest_v5_json",
    "read_v3_xml",
    "read_v5_json",
]


@dataclass(frozen=True, slots=True)
class Ingested:
    """A commit read from a posted body, and what had to be repaired to read it (if anything)."""

    commit: SourceCommit
    repairs: tuple[Repair, ...] = ()

    @property
    def repaired(self) -> str:
        """What was repaired, for the delivery list and the log (empty when nothing was)."""
        return ", ".join(self.repairs)


def read_v3_xml(body: bytes) -> SourceCommit:
    """Read a v3 ``<source_commit>`` document, repairing what old scripts break."""
    return ingest_v3_xml(body).commit


def read_v5_json(body: bytes) -> SourceCommit:
    """Read a v5 ``{"source_commit": {…}}`` document, repairing what old scripts break."""
    return ingest_v5_json(body).commit


def ingest_v3_xml(body: bytes) -> Ingested:
    """Read a v3 body (see the module's order); ``PayloadError`` or ``NotASourceCommit``."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise PayloadError(f"XML with a DTD or entities is refused ({type(exc).__name__})") from exc
    except SafeET.ParseError as exc:
        # Never repaired: a DTD, a declaration or a processing instruction anywhere.
        refuse_declarations(decode_text(body))
        return _repaired(repair_v3_xml, body, f"body is not well-formed XML: {exc}")
    except (ValueError, LookupError) as exc:
        # expat refuses multi-byte and unknown encodings named in the XML declaration.
        raise PayloadError(f"XML encoding is not supported: {exc}") from exc
    if root.tag != "source_commit":
        raise NotASourceCommit(f"root element is <{root.tag}>, not <source_commit>")
    if b"\r" in body or has_bash_doubling(body):
        # Well formed, yet an XML parser would not give the text the script started from.
        try:
            repaired = repair_v3_xml(body, well_formed=True)
        except PayloadError:
            pass  # not in the shape the repair reads (other elements, comments): as parsed
        else:
            return _validated(repaired.values, repaired.repairs)
    values: dict[str, str] = {}
    for name in FIELDS:
        element = root.find(name)
        if element is not None:
            values[name] = "".join(element.itertext())
    return _validated(values, ())


def ingest_v5_json(body: bytes) -> Ingested:
    """Read a v5 body (see the module's order); ``PayloadError`` or ``NotASourceCommit``."""
    try:
        document: Any = json.loads(body.decode("utf-8", errors="replace"))
    except RecursionError as exc:
        raise PayloadError("body is JSON nested too deeply") from exc
    except ValueError as exc:
        return _repaired(repair_v5_json, body, f"body is not valid JSON: {exc}")
    if not isinstance(document, dict):
        raise NotASourceCommit("body is not a JSON object")
    inner = document.get("source_commit", document)
    if not isinstance(inner, dict):
        raise NotASourceCommit("source_commit is not an object")
    values: dict[str, str] = {}
    for name in FIELDS:
        value = inner.get(name)
        if value is None:
            continue
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise NotASourceCommit(f"source_commit.{name} is not a string")
        values[name] = str(value)
    return _validated(values, ())


@dataclass(frozen=True, slots=True)
class FormPost:
    """A form post: ``token=``, as Tracker allowed it, and any ``source_commit[…]`` fields."""

    token: str | None
    ingested: Ingested | None


def ingest_form(body: bytes) -> FormPost:
    """Read ``token=…&source_commit[message]=…`` as Rails read Tracker's form posts."""
    try:
        fields = parse_qs(
            body.decode("utf-8", errors="replace"),
            keep_blank_values=True,
            max_num_fields=32,
        )
    except ValueError as exc:
        raise PayloadError(f"form body is not readable: {exc}") from exc
    token = fields.get("token", [None])[0]
    values = {
        name: fields[f"source_commit[{name}]"][0]
        for name in FIELDS
        if f"source_commit[{name}]" in fields
    }
    return FormPost(token, _validated(values, ()) if values else None)


def _repaired(repair: Callable[[bytes], Repaired], body: bytes, unreadable: str) -> Ingested:
    """The commit ``repair`` recovers; when it cannot, the parser's reason and its own (400)."""
    try:
        result = repair(body)
    except PayloadError as exc:
        raise PayloadError(f"{unreadable}; {exc.reason}") from exc
    return _validated(result.values, result.repairs)


def _validated(values: Mapping[str, str], repairs: tuple[Repair, ...]) -> Ingested:
    commit_id = values.get("commit_id", "").strip()
    if not commit_id:
        raise NotASourceCommit("source_commit has no commit_id")
    if not values.get("message", "").strip():
        raise NotASourceCommit("source_commit has no message")
    if not is_usable_commit_id(commit_id):
        raise PayloadError(
            f"commit_id of {len(commit_id)} characters is not 1 to {MAX_COMMIT_ID_LENGTH}"
            " printable characters"
        )
    commit = SourceCommit.of(
        commit_id=commit_id,
        message=values.get("message", ""),
        author=values.get("author", ""),
        url=values.get("url", ""),
    )
    return Ingested(commit, repairs)
