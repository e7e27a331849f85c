"""Tracker API v3 (XML): ``source_commits``, GitHub's ``github_commits`` hook, and stories."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from hookrelay.core.ingest import read_v3_xml
from hookrelay.core.source_commit import render_v3_xml
from hookrelay.core.webhooks import Push, parse_webhook
from hookrelay.emulator.deps import WorldDep, require_query_token, require_token
from hookrelay.emulator.formats import story_v3
from hookrelay.exceptions import InputError, PayloadError

__all__ = ["router"]

router = APIRouter()

_XML = "application/xml"


@router.post("/source_commits", dependencies=[Depends(require_token)])
async def create_source_commit(request: Request, world: WorldDep) -> Response:
    """Apply a ``<source_commit>`` document; answers it back, as v3 answered a created resource."""
    try:
        commit = read_v3_xml(await request.body())
    except PayloadError as exc:
        # XML that cannot be read, or that declares a DTD or entities (XXE, billion laughs), is
        # refused unread (400); well-formed XML that is not a source_commit is 422.
        raise HTTPException(exc.status_hint, str(exc)) from exc
    world.record_commit(commit, commit_type="source_commit")
    return Response(render_v3_xml(commit), media_type=_XML)


@router.post("/github_commits", dependencies=[Depends(require_query_token)])
async def github_commits(request: Request, world: WorldDep) -> Response:
    """Apply every commit of a GitHub push (JSON or form-encoded ``payload=``)."""
    try:
        event = parse_webhook(request.headers, await request.body())
    except InputError as exc:
        raise HTTPException(exc.status_hint, str(exc)) from exc
    if isinstance(event, Push):
        for pushed in event.commits:
            world.record_commit(pushed.to_source_commit(), commit_type="github")
    return Response(b"", media_type=_XML)


@router.get("/projects/{project_id}/stories/{story_id}", dependencies=[Depends(require_token)])
def show_story(project_id: int, story_id: int, request: Request, world: WorldDep) -> Response:
    """One story as ``<story>``, with ``<current_state>`` and its comments as ``<notes>``."""
    story = world.story(project_id, story_id)
    if story is None:
        raise HTTPException(404, "Resource not found")
    body = story_v3(story, world.comments(story.id), str(request.base_url))
    return Response(body, media_type=_XML)
