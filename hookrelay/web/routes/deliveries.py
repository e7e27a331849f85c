"""The delivery list behind ``HOOKRELAY_ADMIN_TOKEN``: see the queue, retry a commit.

A retry posts the commit with today's settings (``hookrelay.redelivery``): the token and target
its repository's route has now, unless the commit brought its own token; the answer's
``retried_with`` says which. Tokens never leave the store through here: a delivery shows its
token's fingerprint only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from hookrelay.queue.store import MAX_ROW_ID, Delivery, State, public_view
from hookrelay.redelivery import RetryReport, retry_deliveries
from hookrelay.web.deps import AdminDep, ContextDep, StoreDep

__all__ = ["DeliveryOut", "RetriedDelivery", "RetryOut", "router"]

router = APIRouter(prefix="/deliveries", tags=["deliveries"], dependencies=[AdminDep])


class DeliveryOut(BaseModel):
    """A queued commit as the delivery list shows it: ``public_view``'s fields, in its order
    (no token, no body); a field the view has and this model lacks is an error, not dropped."""

    model_config = ConfigDict(extra="forbid")

    id: int
    state: State
    attempts: int
    commit_id: str
    repository: str
    branch: str
    summary: str
    dedupe_key: str
    target_url: str
    token_fingerprint: str
    created_at: float
    next_attempt_at: float
    first_attempt_at: float | None
    lease_until: float | None
    finished_at: float | None
    last_error: str
    repaired: str = ""
    token_source: str = ""
    story_ids: list[int] = []

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        """The public view of a stored delivery."""
        return cls.model_validate(public_view(delivery))


class DeliveryList(BaseModel):
    """One page of deliveries, newest first, and how many are in each state."""

    deliveries: list[DeliveryOut]
    counts: dict[str, int]


class RetryOut(BaseModel):
    """What a retry did to one delivery, and with which token and target."""

    id: int
    retried: bool
    retried_with: str
    message: str

    @classmethod
    def of(cls, report: RetryReport) -> RetryOut:
        """The answer for one retried delivery."""
        return cls(
            id=report.delivery_id,
            retried=report.retried,
            retried_with=report.explanation,
            message=report.line(),
        )


class RetriedDelivery(DeliveryOut):
    """A delivery just retried: its public view, and with which token and target it goes."""

    retried_with: str
    message: str


class RetryDeadOut(BaseModel):
    """What ``retry-dead`` did: how many are due again, and each delivery's line."""

    retried: int
    deliveries: list[RetryOut]


DeliveryId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


@router.get("")
async def list_deliveries(
    store: StoreDep,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> DeliveryList:
    """Deliveries, newest first, optionally of one state; page with ``before_id``."""
    rows = await run_in_threadpool(store.list, state=state, limit=limit, before_id=before_id)
    counts = await run_in_threadpool(store.counts)
    return DeliveryList(
        deliveries=[DeliveryOut.of(row) for row in rows],
        counts={s.value: counts.get(s, 0) for s in State},
    )


@router.get("/{delivery_id}")
async def show_delivery(delivery_id: DeliveryId, store: StoreDep) -> DeliveryOut:
    """One delivery by id."""
    delivery = await run_in_threadpool(store.get, delivery_id)
    if delivery is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no delivery {delivery_id}")
    return DeliveryOut.of(delivery)


@router.post("/retry-dead")
async def retry_dead(context: ContextDep, repository: str | None = None) -> RetryDeadOut:
    """Make every dead delivery (or one repository's) due now, with today's settings."""
    store = context.store
    ids = await run_in_threadpool(store.dead_ids, repository=repository)
    reports = await run_in_threadpool(
        retry_deliveries, store, context.routing, ids, now=context.clock()
    )
    return RetryDeadOut(
        retried=sum(r.retried for r in reports), deliveries=[RetryOut.of(r) for r in reports]
    )


@router.post("/{delivery_id}/retry")
async def retry_delivery(delivery_id: DeliveryId, context: ContextDep) -> RetriedDelivery:
    """Make a dead or waiting delivery due now, with today's token and target."""
    store = context.store
    (report,) = await run_in_threadpool(
        retry_deliveries, store, context.routing, [delivery_id], now=context.clock()
    )
    delivery = await run_in_threadpool(store.get, delivery_id)
    if delivery is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no delivery {delivery_id}")
    if not report.retried:
        raise HTTPException(status.HTTP_409_CONFLICT, report.line())
    return RetriedDelivery.model_validate(
        {**public_view(delivery), "retried_with": report.explanation, "message": report.line()}
    )
