"""Tracker's ``source_commits`` resource, served by hookrelay for hook scripts that post to it.

An existing script only changes its host: it posts v3 XML or v5 JSON with its own
``X-TrackerToken``, the commit is validated, queued durably for the configured target (rendered
for that target's API version) and answered in Tracker's format, errors included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool

from hookrelay.core.ingest import read_v3_xml, read_v5_json
from hookrelay.core.routing import plan_source_commit
from hookrelay.core.source_commit import SourceCommit, render_v3_xml
from hookrelay.exceptions import UnsupportedMediaType
from hookrelay.web.deps import BodyDep, ContextDep
from hookrelay.web.errors import AnswerStyle, answer_errors_as

__all__ = ["v3_router", "v5_router"]

log = logging.getLogger("hookrelay.web")

v3_router = APIRouter(
    prefix="/services/v3",
    tags=["tracker"],
    dependencies=[Depends(answer_errors_as(AnswerStyle.TRACKER_V3))],
)
v5_router = APIRouter(
    prefix="/services/v5",
    tags=["tracker"],
    dependencies=[Depends(answer_errors_as(AnswerStyle.TRACKER_V5))],
)

TrackerToken = Annotated[str | None, Header(alias="X-TrackerToken")]

# `curl -d`, which Tracker's documented hook scripts used, labels any body form-encoded unless
# told otherwise; the body is still read strictly as XML or JSON.
_CURL_DEFAULT = "application/x-www-form-urlencoded"
_XML_TYPES = frozenset({"", "application/xml", "text/xml", _CURL_DEFAULT})
_JSON_TYPES = frozenset({"", "application/json", _CURL_DEFAULT})


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _require_token(token: str | None) -> str:
    if token is None or not token.strip():
        # Tracker answers a request without a token 401, and so does its stand-in.
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "no X-TrackerToken header")
    return token.strip()


async def _ingest(
    endpoint: str,
    body: bytes,
    context: ContextDep,
    token: str,
    read: Callable[[bytes], SourceCommit],
) -> SourceCommit:
    context.metrics.received.labels(endpoint=endpoint).inc()
    commit = read(body)
    plan = plan_source_commit(commit, context.routing, token=token)
    await run_in_threadpool(context.queue, plan)
    log.info(
        "source_commit %s via %s: %s",
        commit.commit_id,
        endpoint,
        "queued" if plan.deliveries else "names no story, skipped",
    )
    return commit


@v3_router.post("/source_commits", response_class=Response)
async def v3_source_commits(
    request: Request, body: BodyDep, context: ContextDep, token: TrackerToken = None
) -> Response:
    """A v3 ``<source_commit>`` (XML), answered with the commit as v3 XML."""
    caller_token = _require_token(token)
    if _media_type(request) not in _XML_TYPES:
        raise UnsupportedMediaType(f"Content-Type {_media_type(request)!r} is not application/xml")
    commit = await _ingest("v3_source_commits", body, context, caller_token, read_v3_xml)
    return Response(render_v3_xml(commit), media_type="application/xml")


@v5_router.post("/source_commits", response_class=Response)
async def v5_source_commits(
    request: Request, body: BodyDep, context: ContextDep, token: TrackerToken = None
) -> Response:
    """A v5 ``{"source_commit": …}`` (JSON), answered with a (still empty) list of comments."""
    caller_token = _require_token(token)
    media_type = _media_type(request)
    if media_type not in _JSON_TYPES and not media_type.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type {media_type!r} is not application/json")
    # v5 answers with the comments it made; they are made when the queued commit is delivered.
    await _ingest("v5_source_commits", body, context, caller_token, read_v5_json)
    return Response(b"[]", media_type="application/json")
