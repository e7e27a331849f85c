"""How the emulator writes its resources and errors: v5 JSON and v3 XML, as Tracker did.

v5 resources carry ``kind`` and ISO-8601 UTC times (Tracker API v5, "Resources"); v3 resources
are XML elements with ``type="integer"`` / ``type="datetime"`` hints and ``YYYY/MM/DD HH:MM:SS UTC``
times (Tracker API v3). Error bodies (v3 ``<errors><error>…</error></errors>``, v5
``{"code", "kind": "error", "error"}``) come from ``hookrelay.core.tracker_errors``, which the
relay's ingest answers with too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # builds documents only; incoming XML goes through defusedxml
from datetime import datetime
from typing import Any

from hookrelay.core.source_commit import sanitize_text
from hookrelay.core.tracker_errors import error_v3_xml, error_v5_document
from hookrelay.emulator.world import OWNER_NAME, OWNER_PERSON_ID, Comment, Project, Story

__all__ = [
    "comment_v5",
    "error_v3",
    "error_v5",
    "me_v5",
    "project_v5",
    "story_v3",
    "story_v5",
]

_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def project_v5(project: Project) -> dict[str, Any]:
    """A project as v5 JSON."""
    return {
        "kind": "project",
        "id": project.id,
        "name": project.name,
        "created_at": project.created_at,
        "updated_at": project.created_at,
    }


def story_v5(story: Story, base_url: str) -> dict[str, Any]:
    """A story as v5 JSON."""
    return {
        "kind": "story",
        "id": story.id,
        "project_id": story.project_id,
        "name": story.name,
        "story_type": story.story_type,
        "current_state": story.current_state,
        "url": _story_url(base_url, story),
        "created_at": story.created_at,
        "updated_at": story.updated_at,
        "labels": [],
        "owner_ids": [],
    }


def me_v5(token: str, projects: list[Project]) -> dict[str, Any]:
    """The token's owner as v5 ``GET /me`` answered (Tracker API v5, "Me"): ``kind: me``."""
    return {
        "kind": "me",
        "id": OWNER_PERSON_ID,
        "name": OWNER_NAME,
        "initials": "TE",
        "username": "emulator",
        "email": "emulator@example.com",
        "api_token": token,
        "has_google_identity": False,
        "receives_in_app_notifications": False,
        "projects": [
            {
                "kind": "membership_summary",
                "id": project.id,
                "project_id": project.id,
                "project_name": project.name,
                "project_color": "8100ea",
                "role": "owner",
                "last_viewed_at": project.created_at,
            }
            for project in projects
        ],
        "workspaces": [],
        "created_at": projects[0].created_at if projects else "2026-01-01T00:00:00Z",
        "updated_at": projects[0].created_at if projects else "2026-01-01T00:00:00Z",
    }


def comment_v5(comment: Comment) -> dict[str, Any]:
    """A comment as v5 JSON."""
    return {
        "kind": "comment",
        "id": comment.id,
        "story_id": comment.story_id,
        "text": comment.text,
        "person_id": comment.person_id,
        "created_at": comment.created_at,
        "updated_at": comment.created_at,
        "commit_identifier": comment.commit_identifier,
        "commit_type": comment.commit_type,
    }


def error_v5(status: int, message: str, code: str | None = None) -> dict[str, str]:
    """A v5 error object for ``status`` (Tracker's code for it, unless ``code`` is given)."""
    return error_v5_document(status, message, code)


def error_v3(message: str) -> bytes:
    """A v3 ``<errors>`` document with one error."""
    return error_v3_xml(message)


def story_v3(story: Story, comments: list[Comment], base_url: str) -> bytes:
    """A story as v3 XML, its comments as ``<notes>``."""
    root = ET.Element("story")
    _typed(root, "id", story.id)
    _typed(root, "project_id", story.project_id)
    _text(root, "story_type", story.story_type)
    _text(root, "url", _story_url(base_url, story))
    _text(root, "current_state", story.current_state)
    _text(root, "name", story.name)
    _text(root, "created_at", _v3_time(story.created_at), kind="datetime")
    _text(root, "updated_at", _v3_time(story.updated_at), kind="datetime")
    notes = ET.SubElement(root, "notes", {"type": "array"})
    for comment in comments:
        note = ET.SubElement(notes, "note")
        _typed(note, "id", comment.id)
        _text(note, "text", comment.text)
        _text(note, "author", OWNER_NAME)
        _text(note, "noted_at", _v3_time(comment.created_at), kind="datetime")
    return _document(root)


def _story_url(base_url: str, story: Story) -> str:
    return f"{base_url.rstrip('/')}/story/show/{story.id}"


def _v3_time(iso: str) -> str:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").strftime("%Y/%m/%d %H:%M:%S UTC")  # noqa: DTZ007 (UTC by construction)


def _typed(parent: ET.Element, name: str, value: int) -> None:
    _text(parent, name, str(value), kind="integer")


def _text(parent: ET.Element, name: str, value: str, *, kind: str | None = None) -> None:
    element = ET.SubElement(parent, name, {"type": kind} if kind else {})
    # Stored text is sanitised already; this keeps a hand-made story name from breaking XML.
    element.text = sanitize_text(value)


def _document(root: ET.Element) -> bytes:
    return _XML_DECLARATION + ET.tostring(root, encoding="unicode").encode("utf-8")
