"""Tracker API v5 (JSON): projects, stories, comments and ``source_commits``."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from hookrelay.core.ingest import read_v5_json
from hookrelay.emulator.deps import WorldDep, require_token
from hookrelay.emulator.formats import comment_v5, project_v5, story_v5
from hookrelay.emulator.workflow import STORY_STATES, STORY_TYPES, StoryState, StoryType
from hookrelay.emulator.world import Project, Story, World
from hookrelay.exceptions import PayloadError

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(require_token)])

_NOT_FOUND = (
    "The object you tried to access could not be found.  It may have been removed by another"
    " user, you may be using the ID of another object type, or you may be trying to access a"
    " sub-resource at the wrong point in a tree."
)


async def _json_object(request: Request) -> dict[str, Any]:
    body = await request.body()
    try:
        document = json.loads(body.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise HTTPException(400, f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise HTTPException(422, "The request body must be a JSON object.")
    return document


def _project(world: World, project_id: int) -> Project:
    project = world.project(project_id)
    if project is None:
        raise HTTPException(404, _NOT_FOUND)
    return project


def _story(world: World, project_id: int, story_id: int) -> Story:
    story = world.story(project_id, story_id)
    if story is None:
        raise HTTPException(404, _NOT_FOUND)
    return story


def _name(document: dict[str, Any]) -> str:
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        raise HTTPException(422, "name can't be blank")
    return name.strip()


@router.get("/me")
def show_me(world: WorldDep) -> dict[str, Any]:
    """The token's owner, in Tracker's ``me`` shape (what a client asks to check a token)."""
    return {
        "kind": "me",
        "id": 100,
        "name": "Tracker Emulator",
        "initials": "TE",
        "username": "emulator",
        "email": "emulator@example.com",
        "receives_in_app_notifications": False,
        "time_zone": {"kind": "time_zone", "olson_name": "Etc/UTC", "offset": "+00:00"},
        "projects": [
            {
                "kind": "membership_summary",
                "id": project.id,
                "project_id": project.id,
                "project_name": project.name,
                "project_color": "555555",
                "role": "owner",
                "last_viewed_at": project.created_at,
            }
            for project in world.projects()
        ],
    }


@router.get("/projects")
def list_projects(world: WorldDep) -> list[dict[str, Any]]:
    """Every project the token can see."""
    return [project_v5(project) for project in world.projects()]


@router.post("/projects")
async def create_project(request: Request, world: WorldDep) -> dict[str, Any]:
    """Create a project from ``{"name"}``."""
    document = await _json_object(request)
    return project_v5(world.create_project(_name(document)))


@router.get("/projects/{project_id}")
def show_project(project_id: int, world: WorldDep) -> dict[str, Any]:
    """One project."""
    return project_v5(_project(world, project_id))


@router.get("/projects/{project_id}/stories")
def list_stories(project_id: int, request: Request, world: WorldDep) -> list[dict[str, Any]]:
    """The stories of a project."""
    _project(world, project_id)
    base = str(request.base_url)
    return [story_v5(story, base) for story in world.stories(project_id)]


@router.post("/projects/{project_id}/stories")
async def create_story(project_id: int, request: Request, world: WorldDep) -> dict[str, Any]:
    """Create a story from ``{"name", "story_type", "current_state"}`` (type and state optional)."""
    _project(world, project_id)
    document = await _json_object(request)
    name = _name(document)
    story_type = document.get("story_type", "feature")
    if story_type not in STORY_TYPES:
        raise HTTPException(422, f"story_type must be one of: {', '.join(STORY_TYPES)}")
    state = document.get("current_state", "unstarted")
    if state not in STORY_STATES:
        raise HTTPException(422, f"current_state must be one of: {', '.join(STORY_STATES)}")
    story = world.create_story(project_id, name, _as_type(story_type), _as_state(state))
    return story_v5(story, str(request.base_url))


@router.get("/projects/{project_id}/stories/{story_id}")
def show_story(project_id: int, story_id: int, request: Request, world: WorldDep) -> dict[str, Any]:
    """One story, with its ``current_state``."""
    return story_v5(_story(world, project_id, story_id), str(request.base_url))


@router.get("/projects/{project_id}/stories/{story_id}/comments")
def list_comments(project_id: int, story_id: int, world: WorldDep) -> list[dict[str, Any]]:
    """The comments on a story, oldest first."""
    story = _story(world, project_id, story_id)
    return [comment_v5(comment) for comment in world.comments(story.id)]


@router.post("/source_commits")
async def create_source_commit(request: Request, world: WorldDep) -> list[dict[str, Any]]:
    """Apply a ``{"source_commit": {…}}``; answers the comments it added."""
    try:
        commit = read_v5_json(await request.body())
    except PayloadError as exc:
        # Unparseable JSON is a bad request; parseable JSON that is not a commit is unprocessable.
        status = 400 if isinstance(exc.__cause__, ValueError) else 422
        raise HTTPException(status, str(exc)) from exc
    return [comment_v5(c) for c in world.record_commit(commit, commit_type="source_commit")]


def _as_type(value: str) -> StoryType:
    return next(t for t in STORY_TYPES if t == value)


def _as_state(value: str) -> StoryState:
    return next(s for s in STORY_STATES if s == value)
