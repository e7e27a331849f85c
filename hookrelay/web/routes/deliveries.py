"""The delivery list behind ``HOOKRELAY_ADMIN_TOKEN``: see the queue, retry a commit.

Tokens never leave the store through here: a delivery shows its token's fingerprint only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from hookrelay.queue.store import Delivery, State, public_view
from hookrelay.web.deps import AdminDep, ContextDep, StoreDep

__all__ = ["DeliveryOut", "router"]

router = APIRouter(prefix="/deliveries", tags=["deliveries"], dependencies=[AdminDep])


class DeliveryOut(BaseModel):
    """A queued commit as the delivery list shows it (no token, no body)."""

    id: int
    state: State
    commit_id: str
    repository: str
    branch: str
    summary: str
    target_url: str
    token_fingerprint: str
    attempts: int
    created_at: float
    next_attempt_at: float
    finished_at: float | None
    last_error: str
    repaired: str = ""

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        """The public view of a stored delivery."""
        return cls.model_validate(public_view(delivery))


class DeliveryList(BaseModel):
    """One page of deliveries, newest first, and how many are in each state."""

    deliveries: list[DeliveryOut]
    counts: dict[str, int]


# Ids are SQLite/PostgreSQL 64-bit integers; a larger number names no delivery.
MAX_DELIVERY_ID = 2**63 - 1
DeliveryId = Annotated[int, Path(ge=1, le=MAX_DELIVERY_ID)]


@router.get("")
async def list_deliveries(
    store: StoreDep,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_DELIVERY_ID)] = None,
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


@router.post("/{delivery_id}/retry")
async def retry_delivery(delivery_id: DeliveryId, context: ContextDep) -> DeliveryOut:
    """Make a dead or waiting delivery due now."""
    store = context.store
    if not await run_in_threadpool(store.retry, delivery_id, now=context.clock()):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no delivery {delivery_id} to retry (delivered is final)"
        )
    delivery = await run_in_threadpool(store.get, delivery_id)
    if delivery is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no delivery {delivery_id}")
    return DeliveryOut.of(delivery)
