"""Forge push webhooks: GitHub, Gitea, Forgejo and Gogs at ``/github``, GitLab at ``/gitlab``.

``/services/v3/github_commits?token=`` is Tracker's own GitHub hook URL, so a hook can be
repointed by changing only the host. A push is answered 202 only once its commits are in the
durable queue (GitHub gives a hook 10 seconds: "Handling webhook deliveries", GitHub docs).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel

from hookrelay.core.routing import SkipReason, plan_push_in_pieces, read_webhook
from hookrelay.core.webhooks import IgnoredEvent, Ping, Push
from hookrelay.web.body import budgeted_body
from hookrelay.web.browsers import refuse_browser_request
from hookrelay.web.context import RelayContext
from hookrelay.web.deps import get_context
from hookrelay.web.token_gate import (
    admit_push,
    refuse_unusable_commit_ids,
    refuse_unusable_token,
)

__all__ = ["WebhookAnswer", "router"]

log = logging.getLogger("hookrelay.web")

router = APIRouter(tags=["webhooks"])

_ACCEPTED = status.HTTP_202_ACCEPTED

TokenQuery = Annotated[
    str | None, Query(description="Tracker token for this hook's commits, as in Tracker's URL")
]


class WebhookAnswer(BaseModel):
    """What became of a webhook: commits queued, already queued, and skipped by reason."""

    event: str
    repository: str = ""
    queued: int = 0
    duplicates: int = 0
    skipped: int = 0
    skipped_reasons: dict[str, int] = {}


async def _receive(endpoint: str, request: Request, token: str | None) -> Response:
    # The hot path reads its context and body itself rather than through BodyDep/ContextDep:
    # FastAPI's dependency solving was a seventh of the receiver's CPU per push.
    context = await get_context(request)
    context.metrics.received.labels(endpoint=endpoint).inc()
    refuse_browser_request(request)  # a page's cross-site form, or DNS rebinding
    refuse_unusable_token(token, "?token=")  # the ingest's door (issue 8, points 6 and 9)
    limit = context.settings.max_body_bytes
    async with budgeted_body(request, limit, context.body_budget) as body:
        # Verifying, decoding, planning and the durable write all run in a worker thread: a
        # 25 MB push takes seconds of CPU and must not hold the event loop.
        if token is None:
            answer = await context.off_loop.run(
                len(body), _handle, request.headers, body, context, token
            )
        else:
            # A ?token= that hookrelay does not know is asked of the Tracker target (I/O, on
            # the loop) between decoding the push and queueing it.
            event = await context.off_loop.run(
                len(body), read_webhook, request.headers, body, context.routing
            )
            if isinstance(event, Push):
                await admit_push(request, event, token, len(body))
            answer = await context.off_loop.run(len(body), _answer, event, context, token)
    # Serialised here rather than validated again by FastAPI: the model is only ours.
    return Response(answer.model_dump_json(), _ACCEPTED, media_type="application/json")


def _handle(
    headers: Mapping[str, str], body: bytes, context: RelayContext, token: str | None
) -> WebhookAnswer:
    return _answer(read_webhook(headers, body, context.routing), context, token)


def _answer(
    event: Push | Ping | IgnoredEvent, context: RelayContext, token: str | None
) -> WebhookAnswer:
    if isinstance(event, Ping):
        log.info("ping from %s", event.forge, extra={"repository": event.repository})
        return WebhookAnswer(event="ping", repository=event.repository)
    if isinstance(event, IgnoredEvent):
        return WebhookAnswer(event=event.event)
    refuse_unusable_commit_ids(event)
    return _queue(event, context, token)


def _queue(push: Push, context: RelayContext, token: str | None) -> WebhookAnswer:
    queued = duplicates = 0
    skipped: Counter[SkipReason] = Counter()
    # Planned and queued a piece at a time: a big push's rendered bodies are never all held.
    for piece in plan_push_in_pieces(push, context.routing, token=token):
        result = context.queue(piece)
        queued += result.queued
        duplicates += result.duplicates
        skipped.update(piece.skipped)
    log.info(
        "push to %s %s: %d queued, %d already queued, %d skipped",
        push.repository or "?",
        push.ref,
        queued,
        duplicates,
        skipped.total(),
        extra={"forge": push.forge, "delivery": push.delivery_id or "-"},
    )
    return WebhookAnswer(
        event="push",
        repository=push.repository,
        queued=queued,
        duplicates=duplicates,
        skipped=skipped.total(),
        skipped_reasons={reason.value: count for reason, count in skipped.items()},
    )


@router.post("/github", status_code=_ACCEPTED, response_model=WebhookAnswer)
async def github(request: Request, token: TokenQuery = None) -> Response:
    """A GitHub, Gitea, Forgejo or Gogs webhook (JSON or ``payload=`` form)."""
    return await _receive("github", request, token)


@router.post("/services/v3/github_commits", status_code=_ACCEPTED, response_model=WebhookAnswer)
async def tracker_github_commits(request: Request, token: TokenQuery = None) -> Response:
    """The same webhook at Tracker's own URL, ``?token=`` naming the Tracker token."""
    return await _receive("github_commits", request, token)


@router.post("/gitlab", status_code=_ACCEPTED, response_model=WebhookAnswer)
async def gitlab(request: Request, token: TokenQuery = None) -> Response:
    """A GitLab push hook, checked with ``X-Gitlab-Token`` when a secret is set."""
    return await _receive("gitlab", request, token)
