"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from hookrelay.exceptions import StoreError
from hookrelay.web.context import RelayContext
from hookrelay.web.deps import ContextDep, StoreDep

__all__ = ["router"]

log = logging.getLogger("hookrelay.web")

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers (liveness; the Docker HEALTHCHECK)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(store: StoreDep) -> dict[str, str]:
    """The durable queue can be read and written (readiness); 503 otherwise."""
    await run_in_threadpool(store.ping)
    return {"status": "ready"}


def _refresh_queue_gauges(context: RelayContext) -> None:
    counts = context.store.counts()
    for state, count in counts.items():
        context.metrics.queue_depth.labels(state=state.value).set(count)
    context.metrics.inbox_pushes.set(context.store.inbox_count())
    oldest = context.store.oldest_due_created_at()
    age = 0.0 if oldest is None else max(0.0, context.clock() - oldest)
    context.metrics.oldest_pending_age.set(age)


@router.get("/metrics", response_class=Response)
async def metrics(context: ContextDep) -> Response:
    """Prometheus metrics; queue depth and oldest age are read from the store at each scrape."""
    try:
        await run_in_threadpool(_refresh_queue_gauges, context)
    except StoreError as exc:
        # The counters are still worth scraping; readiness reports the store.
        log.warning("metrics: queue gauges not refreshed: %s", exc)
    return Response(generate_latest(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)
