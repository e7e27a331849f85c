"""Turning errors into answers: the exception tree's ``status_hint`` and a one-line reason.

Most routes answer errors as FastAPI does, ``{"detail": "<reason>"}``. The Tracker-compatible
ingest answers as Tracker did, so old hook scripts read what they expect: v3 with
``<errors><error>…</error></errors>``, v5 with its error object (``code``, ``kind``, ``error``).
A route picks its style with the ``answer_errors_as`` dependency.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Mapping

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hookrelay.core.source_commit import sanitize_text
from hookrelay.exceptions import HookrelayError

__all__ = ["AnswerStyle", "answer_errors_as", "error_response", "install_error_handlers"]

log = logging.getLogger("hookrelay.web")

_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

# Tracker API v5 "Error responses": a machine-readable code per kind of failure.
_V5_CODES = {
    400: "invalid_parameter",
    401: "invalid_authentication",
    403: "unauthorized_operation",
    404: "unfound_resource",
    413: "request_entity_too_large",
    415: "unsupported_media_type",
    503: "api_unavailable",
}


class AnswerStyle(enum.Enum):
    """The shape of an error answer."""

    JSON = "json"
    TRACKER_V3 = "tracker_v3"
    TRACKER_V5 = "tracker_v5"


def answer_errors_as(style: AnswerStyle) -> Callable[[Request], None]:
    """A router dependency that makes the router's errors take ``style``."""

    def choose(request: Request) -> None:
        request.state.answer_style = style

    return choose


def _escape(text: str) -> str:
    return (
        sanitize_text(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )


def error_response(
    style: AnswerStyle, status: int, reason: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The answer for a failure with ``status`` and a one-line ``reason``."""
    if style is AnswerStyle.TRACKER_V3:
        body = f"{_XML_DECLARATION}<errors><error>{_escape(reason)}</error></errors>"
        return Response(body, status, headers=headers, media_type="application/xml")
    if style is AnswerStyle.TRACKER_V5:
        document = {"code": _V5_CODES.get(status, "error"), "kind": "error", "error": reason}
        return Response(json.dumps(document), status, headers, "application/json")
    return JSONResponse({"detail": reason}, status, headers=headers)


def _style(request: Request) -> AnswerStyle:
    style = getattr(request.state, "answer_style", AnswerStyle.JSON)
    return style if isinstance(style, AnswerStyle) else AnswerStyle.JSON


async def _hookrelay_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HookrelayError)  # noqa: S101 - registered for this class only
    log.log(
        logging.WARNING if exc.status_hint >= 500 else logging.INFO,
        "refused %s %s: %s %s",
        request.method,
        request.url.path,
        exc.status_hint,
        exc.reason,
        extra={"status": exc.status_hint},
    )
    return error_response(_style(request), exc.status_hint, exc.reason)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this class only
    # FastAPI's default is a 422 with a JSON list; every other refusal here is one line.
    reasons = []
    for error in exc.errors():
        location = error.get("loc", ())
        where = ".".join(str(part) for part in location if part not in {"query", "path"})
        reasons.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return error_response(_style(request), 400, "; ".join(reasons) or "invalid request")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this class only
    return error_response(_style(request), exc.status_code, str(exc.detail), exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer hookrelay's errors and ``HTTPException`` in the style of the route that raised."""
    app.add_exception_handler(HookrelayError, _hookrelay_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
