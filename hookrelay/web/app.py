"""The receiver's app factory: settings and store are built by the entry point and handed in."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI

from hookrelay import __version__
from hookrelay.core.webhook_body import BIG_BODY_BYTES
from hookrelay.inbox import Inbox
from hookrelay.metrics import RelayMetrics
from hookrelay.queue.group_commit import GroupCommit
from hookrelay.queue.store import QueueStore
from hookrelay.settings import Settings
from hookrelay.web.body import BodyBudget, OffLoop
from hookrelay.web.context import RelayContext
from hookrelay.web.errors import install_error_handlers
from hookrelay.web.routes import dashboard, deliveries, health, tracker, webhooks

__all__ = ["create_app"]


def create_app(
    settings: Settings,
    store: QueueStore,
    *,
    metrics: RelayMetrics | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The receiver: webhooks, Tracker-compatible ingest, health, metrics and deliveries.

    The app owns neither the store nor the workers: whoever built them closes them.
    """
    app = FastAPI(
        title="hookrelay",
        version=__version__,
        summary="Relays forge webhooks and Tracker source_commits to Pivotal Tracker.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.relay = RelayContext(
        settings=settings,
        routing=settings.routing(),
        store=store,
        metrics=metrics if metrics is not None else RelayMetrics(),
        clock=clock,
        body_budget=BodyBudget(settings.body_budget_bytes),
        off_loop=OffLoop(big=BIG_BODY_BYTES),
        writer=GroupCommit(store),
        inbox=Inbox(store, clock=clock),
    )
    install_error_handlers(app)
    app.include_router(webhooks.router)
    app.router.routes[0:0] = webhooks.FAST_ROUTES  # matched first: see FAST_ROUTES
    app.include_router(tracker.v3_router)
    app.include_router(tracker.v4_router)
    app.include_router(tracker.v5_router)
    app.include_router(health.router)
    app.include_router(deliveries.router)
    app.include_router(dashboard.router)
    dashboard.install(app)
    return app
