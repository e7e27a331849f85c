"""The emulator's web application: ``create_app(world, token)`` and its error answers.

Errors are answered in the format of the API they were asked in (``formats``): a bad or missing
token gets ``401 Access Denied.`` in plain text, as Tracker answered it for both versions.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hookrelay.core.tracker_errors import ACCESS_DENIED
from hookrelay.emulator import v3, v5
from hookrelay.emulator.demo import DEMO_TOKEN
from hookrelay.emulator.formats import error_v3, error_v5
from hookrelay.emulator.world import World

__all__ = ["DEMO_TOKEN", "create_app"]


def create_app(world: World, token: str = DEMO_TOKEN) -> FastAPI:
    """A Tracker-compatible server over ``world`` that accepts one API ``token``."""
    app = FastAPI(
        title="hookrelay Tracker emulator",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.world = world
    app.state.token = token
    app.include_router(v5.router, prefix="/services/v5")
    app.include_router(v3.router, prefix="/services/v3")
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 (registered for this type only)
    if exc.status_code == 404 and request.scope.get("route") is None:
        # No route matched at all: Tracker told that apart from a missing object.
        return _tracker_error(
            request, 404, "The route you requested does not exist.", "route_not_found"
        )
    return _tracker_error(request, exc.status_code, str(exc.detail))


async def _invalid_request(request: Request, exc: Exception) -> Response:
    # Only path parameters are declared, so this is an ID that is not a number: no such resource.
    return _tracker_error(request, 404, "The object you tried to access could not be found.")


def _tracker_error(
    request: Request, status: int, message: str, code: str | None = None
) -> Response:
    """An error as Tracker answered it on the API version ``request`` was made to."""
    if status == 401:
        return PlainTextResponse(ACCESS_DENIED, status_code=401)
    # Mounted inside ``hookrelay serve`` (at /emulator), the path starts with the mount point.
    path = request.url.path.removeprefix(request.scope.get("root_path", ""))
    if path.startswith("/services/v3"):
        return Response(error_v3(message), status_code=status, media_type="application/xml")
    return JSONResponse(error_v5(status, message, code), status_code=status)
