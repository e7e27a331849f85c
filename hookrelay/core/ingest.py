"""Reading ``source_commit`` bodies as Tracker received them (v3 XML, v5 JSON).

Used by hookrelay's Tracker-compatible ingest endpoints and by the emulator. XML is parsed with
``defusedxml`` and ``forbid_dtd=True``: a DOCTYPE, an entity declaration or an external
reference is refused, so nothing is ever read from disk or the network.
"""

from __future__ import annotations

import json
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from hookrelay.core.source_commit import SourceCommit
from hookrelay.exceptions import PayloadError

__all__ = ["read_v3_xml", "read_v5_json"]

_FIELDS = ("commit_id", "message", "author", "url")


def read_v3_xml(body: bytes) -> SourceCommit:
    """Read a v3 ``<source_commit>`` document; ``PayloadError`` for anything else."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise PayloadError(f"XML with a DTD or entities is refused ({type(exc).__name__})") from exc
    except SafeET.ParseError as exc:
        raise PayloadError(f"body is not well-formed XML: {exc}") from exc
    except (ValueError, LookupError) as exc:
        # expat refuses multi-byte and unknown encodings named in the XML declaration.
        raise PayloadError(f"XML encoding is not supported: {exc}") from exc
    if root.tag != "source_commit":
        raise PayloadError(f"root element is <{root.tag}>, not <source_commit>")
    values: dict[str, str] = {}
    for name in _FIELDS:
        element = root.find(name)
        values[name] = "" if element is None else "".join(element.itertext())
    return _validated(values)


def read_v5_json(body: bytes) -> SourceCommit:
    """Read a v5 ``{"source_commit": {…}}`` document; ``PayloadError`` for anything else."""
    try:
        document: Any = json.loads(body.decode("utf-8", errors="replace"))
    except RecursionError as exc:
        raise PayloadError("body is JSON nested too deeply") from exc
    except ValueError as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise PayloadError("body is not a JSON object")
    inner = document.get("source_commit", document)
    if not isinstance(inner, dict):
        raise PayloadError("source_commit is not an object")
    values: dict[str, str] = {}
    for name in _FIELDS:
        value = inner.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str | int):
            raise PayloadError(f"source_commit.{name} is not a string")
        values[name] = str(value)
    return _validated(values)


def _validated(values: dict[str, str]) -> SourceCommit:
    if not values["commit_id"].strip():
        raise PayloadError("source_commit has no commit_id")
    if not values["message"].strip():
        raise PayloadError("source_commit has no message")
    return SourceCommit.of(
        commit_id=values["commit_id"].strip(),
        message=values["message"],
        author=values["author"],
        url=values["url"],
    )
