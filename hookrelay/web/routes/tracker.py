"""Tracker's ``source_commits`` resource, served by hookrelay for hook scripts that post to it.

An existing script only changes its host: it posts v3 XML (also at ``/services/v4``, which had
v3's shape) or v5 JSON with its token in ``X-TrackerToken``, the ``token`` query parameter or a
``token`` form field, as Tracker allowed. In order, at the door:

1. a token is required (401) and must be usable (400: ``is_usable_token``);
2. the Content-Type must be one the version reads (415), the body at most
   ``HOOKRELAY_INGEST_MAX_BODY_BYTES`` (413, before anything is parsed or repaired);
3. the body is read, repaired where an old script broke it (``hookrelay.core.ingest``): 400 for
   what cannot be read, 422 for a document that is not a commit;
4. the token must be known or confirmed by the target (``hookrelay.web.token_gate``: 401 with
   Tracker's words, 429 past an unconfirmed token's share);
5. the commit is queued durably for the configured target (rendered for its API version), marked
   ``repaired`` with what was repaired, and answered in Tracker's format, errors included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from hookrelay.core.ingest import Ingested, ingest_form, ingest_v3_xml, ingest_v5_json
from hookrelay.core.routing import plan_source_commit
from hookrelay.core.source_commit import render_v3_xml
from hookrelay.exceptions import UnsupportedMediaType
from hookrelay.web.body import budgeted_body
from hookrelay.web.browsers import refuse_browser_request
from hookrelay.web.deps import ContextDep
from hookrelay.web.errors import AnswerStyle, answer_errors_as
from hookrelay.web.token_gate import get_token_gate, refuse_unusable_token

__all__ = ["v3_router", "v4_router", "v5_router"]

log = logging.getLogger("hookrelay.web")

v3_router = APIRouter(
    prefix="/services/v3",
    tags=["tracker"],
    dependencies=[Depends(answer_errors_as(AnswerStyle.TRACKER_V3))],
)
v4_router = APIRouter(
    prefix="/services/v4",
    tags=["tracker"],
    dependencies=[Depends(answer_errors_as(AnswerStyle.TRACKER_V3))],
)
v5_router = APIRouter(
    prefix="/services/v5",
    tags=["tracker"],
    dependencies=[Depends(answer_errors_as(AnswerStyle.TRACKER_V5))],
)

TrackerToken = Annotated[str | None, Header(alias="X-TrackerToken")]
TokenQuery = Annotated[str | None, Query(alias="token")]

# `curl -d`, which Tracker's documented hook scripts used, labels any body form-encoded unless
# told otherwise; such a body is read as XML or JSON when it looks like one, else as a form.
_CURL_DEFAULT = "application/x-www-form-urlencoded"
_XML_TYPES = frozenset({"", "application/xml", "text/xml", _CURL_DEFAULT})
_JSON_TYPES = frozenset({"", "application/json", _CURL_DEFAULT})


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _is_form(media_type: str, body: bytes) -> bool:
    return media_type == _CURL_DEFAULT and body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in {
        b"<",
        b"{",
    }


async def _ingest(
    endpoint: str,
    request: Request,
    context: ContextDep,
    offered: str | None,
    read: Callable[[bytes], Ingested],
    *,
    offered_in: str = "X-TrackerToken",
) -> Ingested:
    """Steps 1 to 5 of the module's order for one post (``offered_in``: where the caller put
    ``offered``, for the 400 that refuses it)."""
    context.metrics.received.labels(endpoint=endpoint).inc()
    refuse_browser_request(request)  # a page's cross-site form, or DNS rebinding
    refuse_unusable_token(offered, offered_in)
    if offered is None and _media_type(request) != _CURL_DEFAULT:
        # Only a form can still bring a token: nothing else is read from a caller without one.
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "no X-TrackerToken header")
    limit = min(context.settings.max_body_bytes, context.settings.ingest_max_body_bytes)
    # Within the body budget all requests share, held until the commit is queued (as webhooks).
    async with budgeted_body(request, limit, context.body_budget) as body:
        token, ingested = offered, None
        if _is_form(_media_type(request), body):
            form = ingest_form(body)
            refuse_unusable_token(form.token, "the token form field")
            token, ingested = token or form.token, form.ingested
        if not token:
            # Tracker answers a request without a token 401, and so does its stand-in.
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "no X-TrackerToken header")
        if ingested is None:
            # Reading (and repairing) up to a megabyte takes a while: never on the event loop.
            ingested = await run_in_threadpool(read, body)
        target = context.routing.default.target
        await get_token_gate(request).admit(token, target, len(body))
        return await _queue(endpoint, ingested, context, token)


async def _queue(endpoint: str, ingested: Ingested, context: ContextDep, token: str) -> Ingested:
    commit = ingested.commit
    plan = plan_source_commit(commit, context.routing, token=token, repaired=ingested.repaired)
    deliveries = plan.deliveries
    await run_in_threadpool(context.queue, plan)
    log.info(
        "source_commit %s via %s: %s%s",
        commit.commit_id,
        endpoint,
        "queued" if deliveries else "names no story, skipped",
        f" (repaired: {ingested.repaired})" if ingested.repaired else "",
        extra={"repaired": ingested.repaired} if ingested.repaired else None,
    )
    return ingested


def _v3_media_type(request: Request) -> None:
    media_type = _media_type(request)
    if media_type not in _XML_TYPES:
        raise UnsupportedMediaType(f"Content-Type {media_type!r} is not application/xml")


def _v5_media_type(request: Request) -> None:
    media_type = _media_type(request)
    if media_type not in _JSON_TYPES and not media_type.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type {media_type!r} is not application/json")


def _where(header: str | None) -> str:
    """Where a post's token came from: its header, which wins, or else ``?token=``."""
    return "X-TrackerToken" if header else "?token="


async def _v3(
    endpoint: str, request: Request, context: ContextDep, offered: str | None, offered_in: str
) -> Response:
    _v3_media_type(request)
    ingested = await _ingest(
        endpoint, request, context, offered, ingest_v3_xml, offered_in=offered_in
    )
    return Response(render_v3_xml(ingested.commit), media_type="application/xml")


@v3_router.post("/source_commits", response_class=Response)
async def v3_source_commits(
    request: Request, context: ContextDep, token: TrackerToken = None, query: TokenQuery = None
) -> Response:
    """A v3 ``<source_commit>`` (XML), answered with the commit as v3 XML."""
    return await _v3("v3_source_commits", request, context, token or query, _where(token))


@v4_router.post("/source_commits", response_class=Response)
async def v4_source_commits(
    request: Request, context: ContextDep, token: TrackerToken = None, query: TokenQuery = None
) -> Response:
    """v4 took v3's ``<source_commit>`` unchanged, and so does hookrelay."""
    return await _v3("v4_source_commits", request, context, token or query, _where(token))


@v5_router.post("/source_commits", response_class=Response)
async def v5_source_commits(
    request: Request, context: ContextDep, token: TrackerToken = None, query: TokenQuery = None
) -> Response:
    """A v5 ``{"source_commit": …}`` (JSON), answered with a (still empty) list of comments."""
    _v5_media_type(request)
    # v5 answers with the comments it made; they are made when the queued commit is delivered.
    await _ingest(
        "v5_source_commits",
        request,
        context,
        token or query,
        ingest_v5_json,
        offered_in=_where(token),
    )
    return Response(b"[]", media_type="application/json")
