"""Tracker's error answers as bytes: the one place the relay's ingest and the emulator write them.

Tracker API v3 answered an error with ``<errors><error>…</error></errors>`` (XML); v5 with an
error object ``{"code", "kind": "error", "error"}`` whose ``code`` names the kind of failure
(Tracker API v5, "Error responses"); both answered a missing or wrong token ``401`` with the
plain text ``Access Denied.``. The code table below is the only one: the relay and the emulator
agree on every status because they read it here.
"""

from __future__ import annotations

import json

from hookrelay.core.source_commit import xml_escape

__all__ = [
    "ACCESS_DENIED",
    "V5_CODES",
    "error_v3_xml",
    "error_v5_document",
    "error_v5_json",
    "v5_code",
]

ACCESS_DENIED = "Access Denied."
"""What Tracker answered, as plain text, for a missing or wrong ``X-TrackerToken``."""

# Tracker API v5 "Error responses": a machine-readable code per kind of failure.
V5_CODES: dict[int, str] = {
    400: "invalid_parameter",
    401: "invalid_authentication",
    403: "unauthorized_operation",
    404: "unfound_resource",
    405: "route_not_found",  # Tracker answered a wrong method as an unknown route
    413: "request_entity_too_large",
    415: "unsupported_media_type",
    422: "invalid_parameter",
    429: "rate_limit_exceeded",
    503: "api_unavailable",
}

_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def v5_code(status: int) -> str:
    """The v5 ``code`` for an HTTP status (``api_error`` for one Tracker named no code for)."""
    return V5_CODES.get(status, "api_error")


def error_v3_xml(reason: str) -> bytes:
    """A v3 ``<errors>`` document with one ``<error>``, whatever ``reason`` holds."""
    return f"{_XML_DECLARATION}<errors><error>{xml_escape(reason)}</error></errors>".encode()


def error_v5_document(status: int, reason: str, code: str | None = None) -> dict[str, str]:
    """A v5 error object for ``status`` (``code`` overrides the table's)."""
    return {"code": code or v5_code(status), "kind": "error", "error": reason}


def error_v5_json(status: int, reason: str, code: str | None = None) -> bytes:
    """A v5 error object for ``status``, as JSON bytes."""
    return json.dumps(error_v5_document(status, reason, code)).encode()
