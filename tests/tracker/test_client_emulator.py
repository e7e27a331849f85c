"""hookrelay's Tracker client and the emulator, over real loopback HTTP, agree on v3 and v5."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import Delivered, Refused, TrackerTarget
from hookrelay.tracker.client import TrackerClient, make_http_client
from tests.support.emulator import RunningEmulator, running_emulator

TOKEN = "fedcba9876543210fedcba9876543210"
VERSIONS = ["v3", "v5"]


@pytest.fixture(scope="module")
def tracker() -> Iterator[RunningEmulator]:
    """One emulator for the module; each test makes its own project and stories."""
    with running_emulator(token=TOKEN) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """The HTTP client hookrelay makes for Tracker."""
    with make_http_client() as client:
        yield client


def client(
    tracker: RunningEmulator, http: httpx.Client, version: str, token: str = TOKEN
) -> TrackerClient:
    """hookrelay's client for the emulator's ``version`` API."""
    url = tracker.v3_url if version == "v3" else tracker.v5_url
    return TrackerClient(http, TrackerTarget.parse(url), token)


def commit(commit_id: str, message: str) -> SourceCommit:
    """A commit by Scotty with a GitHub-style URL."""
    return SourceCommit.of(
        commit_id=commit_id,
        message=message,
        author="Scotty <scotty@enterprise.test>",
        url=f"https://github.com/starfleet/enterprise/commit/{commit_id}",
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_finishes_a_feature_and_accepts_a_chore(
    tracker: RunningEmulator, http: httpx.Client, version: str
) -> None:
    """``[Finishes #A #B]`` finishes feature A, accepts chore B, and leaves one comment on each."""
    project = tracker.create_project(f"Enterprise {version}")
    feature = tracker.create_story(project, "Torpedoes powered", "feature")
    chore = tracker.create_story(project, "Polish the bridge", "chore")
    bystander = tracker.create_story(project, "Warp core", "bug")
    sent = commit(f"{version}-1a2b3c", f"[Finishes #{feature} #{chore}] Torpedoes powered")
    assert client(tracker, http, version).post(sent) == Delivered(200)
    assert tracker.story(project, feature)["current_state"] == "finished"
    assert tracker.story(project, chore)["current_state"] == "accepted"
    assert tracker.story(project, bystander)["current_state"] == "unstarted"
    expected = f"Commit: {sent.author} {sent.url} {sent.message}"
    for story in (feature, chore):
        (comment,) = tracker.comments(project, story)
        assert (comment["text"], comment["commit_identifier"]) == (expected, sent.commit_id)
    assert tracker.comments(project, bystander) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_delivers_and_mentions(tracker: RunningEmulator, http: httpx.Client, version: str) -> None:
    """``[Delivers #C]`` delivers C, and a bare mention starts an unstarted story."""
    project = tracker.create_project(f"Enterprise {version}")
    delivered = tracker.create_story(project, "Shields", "bug")
    mentioned = tracker.create_story(project, "Sensors", "feature")
    tracker_client = client(tracker, http, version)
    assert tracker_client.post(commit(f"{version}-d1", f"[Delivers #{delivered}] up")) == Delivered(
        200
    )
    assert tracker_client.post(commit(f"{version}-m1", f"wip [#{mentioned}]")) == Delivered(200)
    assert tracker.story(project, delivered)["current_state"] == "delivered"
    assert tracker.story(project, mentioned)["current_state"] == "started"


@pytest.mark.parametrize("version", VERSIONS)
def test_same_commit_twice_leaves_one_comment(
    tracker: RunningEmulator, http: httpx.Client, version: str
) -> None:
    """A commit the client posts twice (a retry after a lost answer) leaves one comment."""
    project = tracker.create_project(f"Enterprise {version}")
    story = tracker.create_story(project, "Torpedoes powered")
    sent = commit(f"{version}-twice", f"[#{story}] retried")
    tracker_client = client(tracker, http, version)
    assert [tracker_client.post(sent) for _ in range(2)] == [Delivered(200)] * 2
    assert len(tracker.comments(project, story)) == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_hostile_text_arrives_intact(
    tracker: RunningEmulator, http: httpx.Client, version: str
) -> None:
    """Markup, entities, ``]]>``, CRLF and control bytes in a message arrive as text, sanitised."""
    project = tracker.create_project(f"Enterprise {version}")
    story = tracker.create_story(project, "Torpedoes powered")
    message = f'[#{story}] <b>&amp;</b> "quoted" ]]> \x00\x1b and\r\nbody'
    sent = commit(f"{version}-hostile", message)
    assert client(tracker, http, version).post(sent) == Delivered(200)
    (comment,) = tracker.comments(project, story)
    assert comment["text"].endswith(sent.message)
    assert "\ufffd\ufffd" in comment["text"]


@pytest.mark.parametrize("version", VERSIONS)
def test_bad_token_is_refused_for_good(
    tracker: RunningEmulator, http: httpx.Client, version: str
) -> None:
    """A token the emulator does not accept is refused with Tracker's words, and changes nothing."""
    project = tracker.create_project(f"Enterprise {version}")
    story = tracker.create_story(project, "Torpedoes powered")
    sent = commit(f"{version}-denied", f"[Finishes #{story}]")
    outcome = client(tracker, http, version, token="not-the-token").post(sent)
    assert outcome == Refused(401, "HTTP 401: Access Denied.")
    assert tracker.story(project, story)["current_state"] == "unstarted"


XML_ATTACKS = {
    "xxe": (
        '<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
        "<source_commit><message>[#{story}] &x;</message><author>a</author>"
        "<commit_id>xxe</commit_id></source_commit>"
    ),
    "billion-laughs": (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;">]>'
        "<source_commit><message>[#{story}] &d;</message><author>a</author>"
        "<commit_id>lol</commit_id></source_commit>"
    ),
}


@pytest.mark.parametrize("attack", XML_ATTACKS.values(), ids=XML_ATTACKS.keys())
def test_hostile_xml_is_refused(tracker: RunningEmulator, http: httpx.Client, attack: str) -> None:
    """A v3 body with a DTD (XXE, billion laughs) is refused for good and touches no story."""
    project = tracker.create_project("Enterprise v3")
    story = tracker.create_story(project, "Torpedoes powered")
    body = attack.replace("{story}", str(story)).encode()
    outcome = client(tracker, http, "v3").post_rendered(body)
    assert isinstance(outcome, Refused)
    assert outcome.status == 400
    assert "DTD" in outcome.reason
    assert tracker.comments(project, story) == []
    assert tracker.story(project, story)["current_state"] == "unstarted"
