"""The receiver's dependencies, as ``Annotated`` aliases routes declare as parameters."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from hookrelay.metrics import RelayMetrics
from hookrelay.queue.store import QueueStore
from hookrelay.relay import Routing
from hookrelay.settings import Settings
from hookrelay.web.body import read_limited_body
from hookrelay.web.context import RelayContext

__all__ = [
    "AdminDep",
    "BodyDep",
    "ContextDep",
    "MetricsDep",
    "RoutingDep",
    "SettingsDep",
    "StoreDep",
]


def get_context(request: Request) -> RelayContext:
    """The context ``create_app`` stored on the application."""
    context: RelayContext = request.app.state.relay
    return context


ContextDep = Annotated[RelayContext, Depends(get_context)]


def get_settings(context: ContextDep) -> Settings:
    """The settings the app was built with."""
    return context.settings


def get_store(context: ContextDep) -> QueueStore:
    """The durable queue."""
    return context.store


def get_routing(context: ContextDep) -> Routing:
    """Where each repository's commits go."""
    return context.routing


def get_metrics(context: ContextDep) -> RelayMetrics:
    """This process's Prometheus metrics."""
    return context.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[QueueStore, Depends(get_store)]
RoutingDep = Annotated[Routing, Depends(get_routing)]
MetricsDep = Annotated[RelayMetrics, Depends(get_metrics)]


async def get_body(request: Request, settings: SettingsDep) -> bytes:
    """The raw body, read as a stream up to ``max_body_bytes`` (413 beyond)."""
    return await read_limited_body(request, settings.max_body_bytes)


BodyDep = Annotated[bytes, Depends(get_body)]


def require_admin(request: Request, settings: SettingsDep) -> None:
    """Let the request through only with ``Authorization: Bearer <HOOKRELAY_ADMIN_TOKEN>``."""
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
