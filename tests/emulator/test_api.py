"""The emulator's HTTP API, spoken to over real loopback HTTP as a Tracker client would."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import defusedxml.ElementTree as SafeET
import httpx
import pytest

from tests.conftest import load_json
from tests.support.emulator import RunningEmulator, running_emulator

TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def tracker() -> Iterator[RunningEmulator]:
    """One emulator for the module; each test makes its own project."""
    with running_emulator(token=TOKEN) as running:
        yield running


@pytest.fixture
def http(tracker: RunningEmulator) -> httpx.Client:
    """An HTTP client for requests the helper has no method for."""
    return tracker.http


def v5_commit(commit_id: str, message: str) -> dict[str, Any]:
    """A v5 source_commit document."""
    return {
        "source_commit": {
            "commit_id": commit_id,
            "message": message,
            "author": "Scotty",
            "url": f"https://example.test/commit/{commit_id}",
        }
    }


def v3_commit(commit_id: str, message: str) -> bytes:
    """A v3 <source_commit> document."""
    return (
        f"<source_commit><message>{message}</message><author>Scotty</author>"
        f"<commit_id>{commit_id}</commit_id><url></url></source_commit>"
    ).encode()


HEADERS = {"X-TrackerToken": TOKEN}


# --- tokens -----------------------------------------------------------------------------------

GUARDED = [
    ("GET", "/services/v5/projects"),
    ("POST", "/services/v5/projects"),
    ("GET", "/services/v5/projects/2600001/stories/187000001"),
    ("POST", "/services/v5/source_commits"),
    ("POST", "/services/v3/source_commits"),
    ("GET", "/services/v3/projects/2600001/stories/187000001"),
    ("POST", "/services/v3/github_commits"),
]


@pytest.mark.parametrize(
    "token", [None, "wrong", TOKEN.upper()], ids=["missing", "wrong", "wrong-case"]
)
@pytest.mark.parametrize(("method", "path"), GUARDED, ids=[f"{m} {p}" for m, p in GUARDED])
def test_bad_token_is_access_denied(
    tracker: RunningEmulator, http: httpx.Client, method: str, path: str, token: str | None
) -> None:
    """Without the right token every resource answers 401 with Tracker's plain-text words."""
    headers = {} if token is None else {"X-TrackerToken": token}
    response = http.request(method, f"{tracker.base_url}{path}", headers=headers, content=b"{}")
    assert response.status_code == 401
    assert response.text == "Access Denied."
    assert response.headers["content-type"].startswith("text/plain")


def test_github_commits_takes_the_token_from_the_query(
    tracker: RunningEmulator, http: httpx.Client
) -> None:
    """GitHub's hook URL carries the token as ?token=, and a wrong one is refused."""
    url = f"{tracker.v3_url}/github_commits"
    ping = {"zen": "Keep it logically awesome.", "hook_id": 1}
    assert http.post(url, params={"token": TOKEN}, json=ping).status_code == 200
    assert http.post(url, params={"token": "nope"}, json=ping).status_code == 401


# --- v5 resources -----------------------------------------------------------------------------


def test_v5_projects_and_stories(tracker: RunningEmulator, http: httpx.Client) -> None:
    """Projects and stories are created and listed as v5 JSON, stories unstarted features first."""
    project = http.post(f"{tracker.v5_url}/projects", json={"name": "Enterprise"}, headers=HEADERS)
    assert project.status_code == 200
    assert project.json()["kind"] == "project"
    project_id = project.json()["id"]
    created = http.post(
        f"{tracker.v5_url}/projects/{project_id}/stories",
        json={"name": "Torpedoes"},
        headers=HEADERS,
    ).json()
    assert (created["story_type"], created["current_state"]) == ("feature", "unstarted")
    listed = http.get(f"{tracker.v5_url}/projects/{project_id}/stories", headers=HEADERS).json()
    assert [story["id"] for story in listed] == [created["id"]]
    projects = http.get(f"{tracker.v5_url}/projects", headers=HEADERS).json()
    assert project_id in [p["id"] for p in projects]


INVALID_STORIES = [
    ({"story_type": "feature"}, "name can't be blank"),
    ({"name": "x", "story_type": "epic"}, "story_type must be one of"),
    ({"name": "x", "current_state": "done"}, "current_state must be one of"),
]


@pytest.mark.parametrize(
    ("body", "error"), INVALID_STORIES, ids=["no-name", "bad-type", "bad-state"]
)
def test_v5_invalid_story_is_422(
    tracker: RunningEmulator, http: httpx.Client, body: dict[str, str], error: str
) -> None:
    """A story Tracker could not create is refused with a v5 error object."""
    project = tracker.create_project("Enterprise")
    response = http.post(f"{tracker.v5_url}/projects/{project}/stories", json=body, headers=HEADERS)
    assert response.status_code == 422
    document = response.json()
    assert (document["kind"], document["code"]) == ("error", "invalid_parameter")
    assert error in document["error"]


@pytest.mark.parametrize(
    "path",
    ["/projects/1", "/projects/1/stories", "/projects/abc", "/projects/1/stories/2/comments"],
    ids=["project", "stories", "not-a-number", "comments"],
)
def test_v5_unknown_resource_is_404(
    tracker: RunningEmulator, http: httpx.Client, path: str
) -> None:
    """A resource that does not exist is a 404 with Tracker's ``unfound_resource`` code."""
    response = http.get(f"{tracker.v5_url}{path}", headers=HEADERS)
    assert response.status_code == 404
    assert response.json()["code"] == "unfound_resource"


def test_story_of_another_project_is_404(tracker: RunningEmulator, http: httpx.Client) -> None:
    """A story is found only under the project it belongs to."""
    project = tracker.create_project("Enterprise")
    other = tracker.create_project("Reliant")
    story = tracker.create_story(project, "Torpedoes")
    response = http.get(f"{tracker.v5_url}/projects/{other}/stories/{story}", headers=HEADERS)
    assert response.status_code == 404


# --- source commits ---------------------------------------------------------------------------


def test_v5_source_commit_answers_the_comments_it_added(
    tracker: RunningEmulator, http: httpx.Client
) -> None:
    """A v5 commit answers its new comments, and posting it again adds none."""
    project = tracker.create_project("Enterprise")
    story = tracker.create_story(project, "Torpedoes")
    body = v5_commit("a1b2c3", f"[#{story}] wiring")
    first = http.post(f"{tracker.v5_url}/source_commits", json=body, headers=HEADERS)
    again = http.post(f"{tracker.v5_url}/source_commits", json=body, headers=HEADERS)
    assert first.status_code == again.status_code == 200
    assert [c["story_id"] for c in first.json()] == [story]
    assert again.json() == []
    (comment,) = tracker.comments(project, story)
    assert comment["commit_identifier"] == "a1b2c3"
    assert comment["text"] == f"Commit: Scotty https://example.test/commit/a1b2c3 [#{story}] wiring"
    assert set(comment) >= {"id", "text", "commit_identifier", "commit_type", "person_id"}
    assert tracker.story(project, story)["current_state"] == "started"


INVALID_V5 = [
    (b"{not json", 400, "not valid JSON"),
    (b"[]", 422, "not a JSON object"),
    (json.dumps({"source_commit": {"message": "[#1]"}}).encode(), 422, "no commit_id"),
    (json.dumps({"source_commit": {"commit_id": "1"}}).encode(), 422, "no message"),
    (json.dumps({"source_commit": {"commit_id": [], "message": "x"}}).encode(), 422, "string"),
]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    INVALID_V5,
    ids=["not-json", "array", "no-commit-id", "no-message", "id-not-string"],
)
def test_v5_invalid_source_commit(
    tracker: RunningEmulator, http: httpx.Client, body: bytes, status: int, error: str
) -> None:
    """An unreadable v5 body is 400 and an invalid one 422, each as a v5 error object."""
    response = http.post(
        f"{tracker.v5_url}/source_commits",
        content=body,
        headers={**HEADERS, "Content-Type": "application/json"},
    )
    assert response.status_code == status
    document = response.json()
    assert document["kind"] == "error"
    assert error in document["error"]


def test_v3_source_commit_and_story_xml(tracker: RunningEmulator, http: httpx.Client) -> None:
    """A v3 commit finishes a story, whose v3 XML shows the state and the comment as a note."""
    project = tracker.create_project("Enterprise")
    story = tracker.create_story(project, "Torpedoes", story_type="bug")
    response = http.post(
        f"{tracker.v3_url}/source_commits",
        content=v3_commit("54321", f"[Fixes #{story}] torpedoes &amp; phasers"),
        headers={**HEADERS, "Content-Type": "application/xml"},
    )
    assert response.status_code == 200
    assert SafeET.fromstring(response.content).tag == "source_commit"
    shown = http.get(f"{tracker.v3_url}/projects/{project}/stories/{story}", headers=HEADERS)
    root = SafeET.fromstring(shown.content)
    assert root.findtext("current_state") == "finished"
    assert root.findtext("id") == str(story)
    notes = root.findall("notes/note")
    assert [note.findtext("text") for note in notes] == [
        f"Commit: Scotty 54321 [Fixes #{story}] torpedoes & phasers"
    ]


def test_v3_unknown_story_is_404_in_xml(tracker: RunningEmulator, http: httpx.Client) -> None:
    """A v3 story that does not exist is a 404 with an <errors> document."""
    response = http.get(f"{tracker.v3_url}/projects/1/stories/2", headers=HEADERS)
    assert response.status_code == 404
    assert SafeET.fromstring(response.content).tag == "errors"


HOSTILE_XML = {
    "xxe-file": (
        b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<source_commit><message>[#1] &x;</message><commit_id>1</commit_id></source_commit>"
    ),
    "billion-laughs": (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;">]>'
        b"<source_commit><message>&d;</message><commit_id>1</commit_id></source_commit>"
    ),
    "external-dtd": (
        b'<?xml version="1.0"?><!DOCTYPE source_commit SYSTEM "http://127.0.0.1:9/x.dtd">'
        b"<source_commit><message>[#1]</message><commit_id>1</commit_id></source_commit>"
    ),
    "not-well-formed": b"<source_commit><message>[#1]</source_commit>",
}


@pytest.mark.parametrize("body", HOSTILE_XML.values(), ids=HOSTILE_XML.keys())
def test_v3_hostile_or_broken_xml_is_400(
    tracker: RunningEmulator, http: httpx.Client, body: bytes
) -> None:
    """XML with a DTD or entities, or not well formed, is refused unread with a v3 error."""
    response = http.post(
        f"{tracker.v3_url}/source_commits",
        content=body,
        headers={**HEADERS, "Content-Type": "application/xml"},
    )
    assert response.status_code == 400
    assert SafeET.fromstring(response.content).tag == "errors"
    assert b"root:" not in response.content


INVALID_V3 = {
    "wrong-root": b"<commit><message>[#1]</message><commit_id>1</commit_id></commit>",
    "no-commit-id": b"<source_commit><message>[#1]</message></source_commit>",
    "no-message": b"<source_commit><commit_id>1</commit_id></source_commit>",
}


@pytest.mark.parametrize("body", INVALID_V3.values(), ids=INVALID_V3.keys())
def test_v3_invalid_source_commit_is_422(
    tracker: RunningEmulator, http: httpx.Client, body: bytes
) -> None:
    """Well-formed XML that is not a usable source_commit is 422 with <errors><error>."""
    response = http.post(
        f"{tracker.v3_url}/source_commits",
        content=body,
        headers={**HEADERS, "Content-Type": "application/xml"},
    )
    assert response.status_code == 422
    root = SafeET.fromstring(response.content)
    assert root.tag == "errors"
    assert root.findtext("error")


# --- GitHub's hook ----------------------------------------------------------------------------


def github_push(story_ids: list[int], message: str) -> dict[str, Any]:
    """A real recorded push, its one commit's message replaced to name ``story_ids``."""
    push = copy.deepcopy(load_json("github/api.github.com/push/with-new-branch.payload.json"))
    refs = " ".join(f"#{story}" for story in story_ids)
    push["commits"][0]["message"] = f"[{message} {refs}] from GitHub"
    return push


@pytest.mark.parametrize("encoding", ["json", "form"])
def test_github_push_applies_each_commit(
    tracker: RunningEmulator, http: httpx.Client, encoding: str
) -> None:
    """A GitHub push (JSON or form-encoded) comments and moves each named story once."""
    project = tracker.create_project("Enterprise")
    story = tracker.create_story(project, "Torpedoes")
    push = github_push([story], "Delivers")
    url = f"{tracker.v3_url}/github_commits"
    for _ in range(2):  # GitHub redelivers; the second must change nothing
        if encoding == "json":
            response = http.post(
                url, params={"token": TOKEN}, json=push, headers={"X-GitHub-Event": "push"}
            )
        else:
            response = http.post(
                url,
                params={"token": TOKEN},
                content=urlencode({"payload": json.dumps(push)}).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert response.status_code == 200
    (comment,) = tracker.comments(project, story)
    assert comment["commit_identifier"] == push["commits"][0]["id"]
    assert comment["commit_type"] == "github"
    assert comment["text"].startswith("Commit: Codertocat https://github.com/Codertocat/")
    assert tracker.story(project, story)["current_state"] == "delivered"


def test_github_body_that_is_not_a_push_is_400(
    tracker: RunningEmulator, http: httpx.Client
) -> None:
    """A body GitHub would never send is refused with a v3 error."""
    response = http.post(
        f"{tracker.v3_url}/github_commits", params={"token": TOKEN}, content=b"not json"
    )
    assert response.status_code == 400
    assert SafeET.fromstring(response.content).tag == "errors"


def test_unknown_route_is_route_not_found(tracker: RunningEmulator, http: httpx.Client) -> None:
    """A path no route serves is told apart from a missing object, as Tracker's codes did."""
    response = http.get(f"{tracker.v5_url}/epics", headers=HEADERS)
    assert response.status_code == 404
    assert response.json()["code"] == "route_not_found"


def test_v5_me_answers_the_tokens_owner_as_tracker_did(
    tracker: RunningEmulator, http: httpx.Client
) -> None:
    """``GET /me`` answers Tracker's ``kind: me`` with the token's projects; 401 for another."""
    me = http.get(f"{tracker.v5_url}/me", headers=HEADERS)
    assert me.status_code == 200
    document = me.json()
    assert document["kind"] == "me"
    assert document["api_token"] == TOKEN
    assert {"id", "name", "username", "email", "projects"} <= document.keys()
    assert all(p["kind"] == "membership_summary" for p in document["projects"])
    refused = http.get(f"{tracker.v5_url}/me", headers={"X-TrackerToken": "wrong"})
    assert (refused.status_code, refused.text) == (401, "Access Denied.")


# --- limits -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> Iterator[RunningEmulator]:
    """An emulator that holds 2 projects, 2 stories and bodies of 1 KB."""
    with running_emulator(token=TOKEN, max_projects=2, max_stories=2, max_body_bytes=1024) as e:
        yield e


def test_a_full_emulator_answers_403_in_trackers_format(small: RunningEmulator) -> None:
    """Past its projects or stories, POST answers 403 with a v5 error naming the limit."""
    project = small.create_project("one")
    small.create_project("two")
    refused = small.http.post(f"{small.v5_url}/projects", json={"name": "three"}, headers=HEADERS)
    assert refused.status_code == 403
    assert refused.json()["code"] == "unauthorized_operation"
    assert "at most 2 projects" in refused.json()["error"]
    small.create_story(project, "a")
    small.create_story(project, "b")
    story = small.http.post(
        f"{small.v5_url}/projects/{project}/stories", json={"name": "c"}, headers=HEADERS
    )
    assert (story.status_code, story.json()["code"]) == (403, "unauthorized_operation")


@pytest.mark.parametrize(
    ("path", "chunked"),
    [
        ("/services/v5/source_commits", False),
        ("/services/v5/source_commits", True),
        ("/services/v3/source_commits", False),
        ("/services/v3/source_commits", True),
    ],
    ids=["v5-length", "v5-chunked", "v3-length", "v3-chunked"],
)
def test_a_body_over_the_limit_is_413(small: RunningEmulator, path: str, chunked: bool) -> None:
    """A body over max_body_bytes is 413, refused by its length or as it streams past the limit."""
    body = b"x" * 4096

    def pieces() -> Iterator[bytes]:
        yield from (body[i : i + 512] for i in range(0, len(body), 512))

    answer = small.http.post(
        f"{small.base_url}{path}", content=pieces() if chunked else body, headers=HEADERS
    )
    assert answer.status_code == 413
    assert "1024-byte limit" in answer.text
    assert small.http.post(
        f"{small.base_url}{path}",
        content=b"<source_commit></source_commit>" if "v3" in path else b"{}",
        headers=HEADERS,
    ).status_code in {400, 422}
