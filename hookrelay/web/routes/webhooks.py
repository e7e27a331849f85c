"""Forge push webhooks: GitHub, Gitea, Forgejo and Gogs at ``/github``, GitLab at ``/gitlab``.

``/services/v3/github_commits?token=`` is Tracker's own GitHub hook URL, so a hook can be
repointed by changing only the host. A push is answered 202 only once its commits are in the
durable queue (GitHub gives a hook 10 seconds: "Handling webhook deliveries", GitHub docs).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

import msgspec
from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict
from starlette.routing import Route

from hookrelay.core.routing import SkipReason, plan_push_in_pieces, read_webhook, tally_push
from hookrelay.core.webhooks import IgnoredEvent, Ping, Push, encode_push
from hookrelay.queue.store import InboxPush
from hookrelay.web.body import budgeted_body
from hookrelay.web.browsers import refuse_browser_request
from hookrelay.web.context import RelayContext
from hookrelay.web.token_gate import (
    admit_push,
    refuse_unusable_commit_ids,
    refuse_unusable_token,
)

__all__ = ["FAST_ROUTES", "WebhookAnswer", "router"]

log = logging.getLogger("hookrelay.web")

router = APIRouter(tags=["webhooks"])

_ACCEPTED = status.HTTP_202_ACCEPTED
_READ_ON_LOOP = 64 * 1024
_JSON = msgspec.json.Encoder()

# ?token= is read from the request by _receive, not declared as a parameter: FastAPI's parameter
# solving was a twentieth of the receiver's CPU per push. It is documented here instead.
_TOKEN_PARAMETER = {
    "parameters": [
        {
            "name": "token",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "Tracker token for this hook's commits, as in Tracker's URL",
        }
    ]
}


class WebhookAnswer(BaseModel):
    """What became of a webhook: the commits it relays (``accepted``), and of those, when the
    push was queued at once, how many were queued and how many were already queued (absent
    when it was kept in the inbox, ``hookrelay.inbox``); and the commits skipped, by reason."""

    model_config = ConfigDict(extra="forbid")

    event: str
    repository: str = ""
    accepted: int = 0
    queued: int | None = None
    duplicates: int | None = None
    skipped: int = 0
    skipped_reasons: dict[str, int] = {}


def _answer(
    event: str,
    repository: str = "",
    *,
    accepted: int = 0,
    skipped: Mapping[SkipReason, int] | None = None,
    queued: int | None = None,
    duplicates: int | None = None,
) -> dict[str, object]:
    """A ``WebhookAnswer`` as the JSON object it is sent as (a dict: the model, validated and
    serialised, cost ten times more on every push; a test checks the two agree)."""
    answer: dict[str, object] = {"event": event, "repository": repository, "accepted": accepted}
    if queued is not None:
        answer["queued"] = queued
        answer["duplicates"] = duplicates
    reasons = {reason.value: count for reason, count in (skipped or {}).items()}
    answer["skipped"] = sum(reasons.values())
    answer["skipped_reasons"] = reasons
    return answer


async def _receive(endpoint: str, request: Request) -> Response:
    # The hot path reads its context and body itself rather than through BodyDep/ContextDep:
    # FastAPI's dependency solving was a seventh of the receiver's CPU per push.
    context: RelayContext = request.app.state.relay
    # Most hooks have no query string; parsing an empty one is not free either.
    token = request.query_params.get("token") if request.scope.get("query_string") else None
    context.inbox.enter()
    try:
        return await _receive_body(endpoint, request, token, context)
    finally:
        context.inbox.leave()


async def _receive_body(
    endpoint: str, request: Request, token: str | None, context: RelayContext
) -> Response:
    context.metrics.received.labels(endpoint=endpoint).inc()
    refuse_browser_request(request)  # a page's cross-site form, or DNS rebinding
    refuse_unusable_token(token, "?token=")  # the ingest's door (issue 8, points 6 and 9)
    limit = context.settings.max_body_bytes
    headers = request.headers
    async with budgeted_body(request, limit, context.body_budget) as body:
        size = len(body)
        # A usual push (a few KB) is read on the event loop, in a fraction of a millisecond;
        # a bigger one in a worker thread: a 25 MB push takes seconds of CPU.
        if size <= _READ_ON_LOOP:
            event = read_webhook(headers, body, context.routing)
        else:
            event = await context.off_loop.run(size, read_webhook, headers, body, context.routing)
        if isinstance(event, Ping):
            log.info("ping from %s", event.forge, extra={"repository": event.repository})
            answer = _answer("ping", event.repository)
        elif isinstance(event, IgnoredEvent):
            answer = _answer(event.event)
        else:
            refuse_unusable_commit_ids(event)
            confirmed = True
            if token is not None:
                # A ?token= that hookrelay does not know is asked of the Tracker target.
                confirmed = await admit_push(request, event, token, size)
            # A token let in on its unconfirmed share is queued at once, where its share
            # counts it (TokenGate.admit): the inbox would let it past its share.
            if confirmed and context.inbox.should_keep(size):
                answer = await _keep(event, context, token)
            else:
                # Planning and the durable write run in a worker thread.
                answer = await context.off_loop.run(size, _queue, event, context, token)
    # Serialised here rather than validated again by FastAPI: the answer is only ours.
    return Response(_JSON.encode(answer), _ACCEPTED, media_type="application/json")


async def _keep(push: Push, context: RelayContext, token: str | None) -> dict[str, object]:
    """Keep a push in the inbox (durable on return), to be planned and queued by the expander."""
    accepted, skipped = tally_push(push, context.routing, token=token)
    if accepted:
        await context.inbox.keep(InboxPush(encode_push(push), token))
    for reason, count in skipped.items():
        context.metrics.skipped.labels(reason=reason.value).inc(count)
    # Its info line, with what was queued, is the expander's (a log line was a twentieth of
    # the receiver's CPU per push).
    log.debug(
        "push to %s %s: %d accepted (kept in the inbox), %d skipped",
        push.repository or "?",
        push.ref,
        accepted,
        skipped.total(),
        extra={"forge": push.forge, "delivery": push.delivery_id or "-"},
    )
    return _answer("push", push.repository, accepted=accepted, skipped=skipped)


def _queue(push: Push, context: RelayContext, token: str | None) -> dict[str, object]:
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
    return _answer(
        "push",
        push.repository,
        accepted=queued + duplicates,
        skipped=skipped,
        queued=queued,
        duplicates=duplicates,
    )


def _endpoint(endpoint: str, doc: str) -> Callable[[Request], Awaitable[Response]]:
    async def receive(request: Request) -> Response:
        return await _receive(endpoint, request)

    receive.__name__ = receive.__qualname__ = endpoint
    receive.__doc__ = doc
    return receive


# Each endpoint is FastAPI's route, for the OpenAPI document, and a plain Starlette route that
# ``create_app`` puts before FastAPI's, so a request skips FastAPI's per-route machinery
# (dependency solving, its exit stack: about 18 µs of the receiver's CPU per push); both
# answer the same way.
FAST_ROUTES: list[Route] = []
for _path, _name, _doc in (
    ("/github", "github", "A GitHub, Gitea, Forgejo or Gogs webhook (JSON or ``payload=`` form)."),
    (
        "/services/v3/github_commits",
        "github_commits",
        "The same webhook at Tracker's own URL, ``?token=`` naming the Tracker token.",
    ),
    (
        "/gitlab",
        "gitlab",
        "A GitLab push hook, checked with ``X-Gitlab-Token`` when a secret is set.",
    ),
):
    _receiver = _endpoint(_name, _doc)
    router.add_api_route(
        _path,
        _receiver,
        methods=["POST"],
        status_code=_ACCEPTED,
        response_model=WebhookAnswer,
        openapi_extra=_TOKEN_PARAMETER,
    )
    FAST_ROUTES.append(Route(_path, _receiver, methods=["POST"]))
