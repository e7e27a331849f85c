"""A webhook's body as data: JSON, or JSON in the ``payload=`` field of a form.

Small bodies are read with ``json.loads``. A big one (over 1 MB: a push of thousands of commits)
is read from its bytes a window at a time (``hookrelay.core.json_stream``), keeping only the
keys a push is read for, sharing repeated short values (authors, timestamps), and handing each
commit to a converter as it is parsed: its text, its full tree and its commits are never all
held at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from hookrelay.core.json_stream import read_object
from hookrelay.exceptions import PayloadError, UnsupportedMediaType

__all__ = ["BIG_BODY_BYTES", "decode_body"]

BIG_BODY_BYTES = 1024 * 1024

# What hookrelay.core.webhooks reads, at any depth; a big body keeps nothing else.
_KEYS_READ = frozenset(
    {
        "ref", "deleted", "after", "commits", "repository", "full_name", "project",
        "path_with_namespace", "object_kind", "event_name", "zen", "hook_id",
        "id", "message", "author", "name", "email", "username", "url", "timestamp", "distinct",
    }
)  # fmt: skip
# Short values that repeat from commit to commit are kept once.
_SHARED_KEYS = frozenset({"name", "email", "username", "timestamp"})

Converter = Callable[[Any, int, Mapping[str, Any]], Any]


def _lean_objects() -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    shared: dict[str, str] = {}

    def lean(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        kept = {}
        for key, value in pairs:
            if key in _SHARED_KEYS and isinstance(value, str):
                kept[key] = shared.setdefault(value, value)
            elif key in _KEYS_READ:
                kept[key] = value
        return kept

    return lean


def _big(body: bytes, convert: Converter | None) -> Any:
    hook = _lean_objects()
    if convert is not None:
        return read_object(body, stream="commits", convert=convert, object_pairs_hook=hook)
    return json.loads(body, object_pairs_hook=hook)


def _loads(data: str | bytes, size: int, convert: Converter | None) -> Any:
    if size <= BIG_BODY_BYTES:
        return json.loads(data)
    if isinstance(data, str):
        return json.loads(data, object_pairs_hook=_lean_objects())
    return _big(data, convert)


def decode_body(body: bytes, content_type: str, *, convert_commit: Converter | None = None) -> Any:
    """The decoded body; ``convert_commit`` may convert a big body's commits as they are read.

    ``UnsupportedMediaType`` for a Content-Type that is neither JSON nor form-encoded,
    ``PayloadError`` for a body that is not valid JSON (or a form without ``payload=``).
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    data: str | bytes = body
    if media_type == "application/x-www-form-urlencoded":
        fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        values = fields.get("payload")
        if not values:
            raise PayloadError("form body has no payload= field")
        data = values[0]
    elif media_type not in {"", "application/json"} and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"Content-Type {media_type!r} is not application/json or form-encoded"
        )
    try:
        try:
            # Straight from the bytes: no decoded copy of a big body is kept alongside it.
            return _loads(data, len(body), convert_commit)
        except UnicodeDecodeError:
            # Bytes that are not UTF-8 are read with U+FFFD in their place, as everywhere else.
            return _loads(body.decode("utf-8", errors="replace"), len(body), None)
    except RecursionError as exc:
        raise PayloadError("body is JSON nested too deeply") from exc
    except ValueError as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from exc
