"""Turning errors into answers: the exception tree's ``status_hint`` and a one-line reason.

Most routes answer errors as FastAPI does, ``{"detail": "<reason>"}``. The Tracker-compatible
ingest answers as Tracker did, so old hook scripts read what they expect: v3 with
``<errors><error>…</error></errors>``, v5 with its error object (``code``, ``kind``, ``error``).
A route picks its style with the ``answer_errors_as`` dependency; the Tracker formats and their
code table are ``hookrelay.core.tracker_errors``, shared with the emulator.

A store failure is answered ``503 the queue is unavailable``: its details (the database, the
driver's words) go to the log only, never to a caller.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hookrelay.core.tracker_errors import error_v3_xml, error_v5_json
from hookrelay.exceptions import HookrelayError, StoreError

__all__ = [
    "QUEUE_UNAVAILABLE",
    "AnswerStyle",
    "answer_errors_as",
    "error_response",
    "install_error_handlers",
]

log = logging.getLogger("hookrelay.web")

QUEUE_UNAVAILABLE = "the queue is unavailable"


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


def error_response(
    style: AnswerStyle, status: int, reason: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The answer for a failure with ``status`` and a one-line ``reason``."""
    if style is AnswerStyle.TRACKER_V3:
        return Response(error_v3_xml(reason), status, headers, "application/xml")
    if style is AnswerStyle.TRACKER_V5:
        return Response(error_v5_json(status, reason), status, headers, "application/json")
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
    # The store's reason names the database and the driver's words: for the log only.
    reason = QUEUE_UNAVAILABLE if isinstance(exc, StoreError) else exc.reason
    headers = {"Retry-After": "5"} if exc.status_hint in {429, 503} else None
    return error_response(_style(request), exc.status_hint, reason, headers)


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
