"""The receiver's dependencies, as ``Annotated`` aliases routes declare as parameters."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from hookrelay.queue.store import QueueStore
from hookrelay.web.body import budgeted_body
from hookrelay.web.context import RelayContext

__all__ = ["AdminDep", "BodyDep", "ContextDep", "StoreDep"]


async def get_context(request: Request) -> RelayContext:
    """The context ``create_app`` stored on the application (async: FastAPI runs a plain
    function dependency in a worker thread, a hop per request for nothing)."""
    context: RelayContext = request.app.state.relay
    return context


ContextDep = Annotated[RelayContext, Depends(get_context)]


async def get_store(context: ContextDep) -> QueueStore:
    """The durable queue."""
    return context.store


StoreDep = Annotated[QueueStore, Depends(get_store)]


async def get_body(request: Request, context: ContextDep) -> AsyncIterator[bytes]:
    """The raw body, read as a stream up to ``max_body_bytes`` (413 beyond), within its share
    of the body budget, which it holds until the request is answered."""
    async with budgeted_body(request, context.settings.max_body_bytes, context.body_budget) as body:
        yield body


BodyDep = Annotated[bytes, Depends(get_body)]


async def require_admin(request: Request, context: ContextDep) -> None:
    """Let the request through only with ``Authorization: Bearer <HOOKRELAY_ADMIN_TOKEN>``."""
    settings = context.settings
    if settings.admin_token is None or not settings.admin_token.get_secret_value():
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "the delivery list is off: set HOOKRELAY_ADMIN_TOKEN"
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = settings.admin_token.get_secret_value().encode("utf-8")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode("utf-8"), expected
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong admin token (Authorization: Bearer …)",
            headers={"WWW-Authenticate": "Bearer"},
        )


AdminDep = Depends(require_admin)
