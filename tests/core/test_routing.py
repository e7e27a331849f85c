"""Routing a push to deliveries: branch globs, skipped commits, tokens, dedupe keys, secrets."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from hookrelay.core.routing import (
    Route,
    Routing,
    SkipReason,
    plan_push,
    plan_push_in_pieces,
    plan_source_commit,
    read_webhook,
)
from hookrelay.core.signatures import sign
from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import TrackerTarget, token_fingerprint
from hookrelay.core.webhooks import Ping, Push, PushedCommit
from hookrelay.exceptions import InputError, SignatureError
from hookrelay.settings import Settings

V5 = TrackerTarget.parse("http://127.0.0.1:9/services/v5")
V3 = TrackerTarget.parse("http://127.0.0.1:9/services/v3")


def commit(
    sha: str, message: str = "[#1] story", *, branch: str = "main", distinct: bool = True
) -> PushedCommit:
    return PushedCommit(
        id=sha,
        message=message,
        author_name="Ada",
        author_email="ada@example.org",
        url=f"https://example.org/{sha}",
        timestamp="",
        branch=branch,
        distinct=distinct,
    )


def push(*commits: PushedCommit, repository: str = "octo/cat", branch: str = "main") -> Push:
    return Push("github", repository, f"refs/heads/{branch}", branch, commits)


def routing(**default: Any) -> Routing:
    return Routing(Route(V5, token="global", **default))


@pytest.mark.parametrize(
    ("branches", "branch", "relayed"),
    [
        ((), "anything/at-all", True),
        (("main",), "main", True),
        (("main",), "mainline", False),
        (("release/*",), "release/1.2", True),
        (("release/*",), "hotfix/1.2", False),
        (("main", "dev*"), "develop", True),
    ],
    ids=["no-filter", "exact", "exact-miss", "glob", "glob-miss", "several"],
)
def test_branch_globs_choose_what_relays(
    branches: tuple[str, ...], branch: str, relayed: bool
) -> None:
    """A commit relays when its branch matches one of the route's globs, or there are none."""
    plan = plan_push(push(commit("a", branch=branch), branch=branch), routing(branches=branches))
    assert len(plan.deliveries) == int(relayed)
    assert plan.skipped == ({} if relayed else {SkipReason.BRANCH: 1})


@pytest.mark.parametrize(
    ("message", "all_commits", "queued"),
    [
        ("[Finishes #12345678] Torpedoes", False, True),
        ("Fixes #12345678 without brackets", False, False),
        ("Fixes #12345678 without brackets", True, True),
        ("", True, True),
    ],
    ids=["story", "no-story", "no-story-all-commits", "empty-all-commits"],
)
def test_commits_naming_no_story_are_skipped_unless_all_commits(
    message: str, all_commits: bool, queued: bool
) -> None:
    """Tracker ignores a commit naming no story, so it is not sent unless HOOKRELAY_ALL_COMMITS."""
    table = Routing(Route(V5, token="t"), all_commits=all_commits)
    plan = plan_push(push(commit("a", message)), table)
    assert len(plan.deliveries) == int(queued)
    assert plan.skipped == ({} if queued else {SkipReason.NO_STORY: 1})


def test_not_distinct_commits_are_skipped_when_every_branch_relays() -> None:
    """A commit GitHub marks distinct: false came with an earlier push that already relayed it."""
    plan = plan_push(push(commit("a"), commit("b", distinct=False)), routing())
    assert [d.commit_id for d in plan.deliveries] == ["a"]
    assert plan.skipped == {SkipReason.NOT_DISTINCT: 1}


def test_not_distinct_commits_relay_when_a_branch_filter_may_have_hidden_them() -> None:
    """With a branch filter the earlier push may have been filtered out; the dedupe key decides."""
    plan = plan_push(push(commit("b", distinct=False)), routing(branches=("main",)))
    assert [d.commit_id for d in plan.deliveries] == ["b"]


def test_a_delivery_carries_the_rendered_body_and_a_stable_dedupe_key() -> None:
    """The delivery holds the body for the target's API version and target+token+commit key."""
    (delivery,) = plan_push(push(commit("abc", "[#7] <b>&</b>")), routing()).deliveries
    assert delivery.target_url == V5.base_url
    assert delivery.token == "global"
    assert delivery.token_fingerprint == token_fingerprint("global")
    assert json.loads(delivery.body)["source_commit"] == {
        "commit_id": "abc",
        "message": "[#7] <b>&</b>",
        "author": "Ada",
        "url": "https://example.org/abc",
    }
    assert delivery.repository == "octo/cat"
    assert delivery.branch == "main"
    assert delivery.summary == "[#7] <b>&</b>"
    again = plan_push(push(commit("abc", branch="dev"), branch="dev"), routing()).deliveries[0]
    assert again.dedupe_key == delivery.dedupe_key


def test_dedupe_keys_differ_by_target_token_and_commit() -> None:
    """One commit may go once to each target and token, and never twice to the same one."""
    keys = {
        plan_push(push(commit(sha)), Routing(Route(target, token=token))).deliveries[0].dedupe_key
        for sha in ("a", "b")
        for target in (V3, V5)
        for token in ("t1", "t2")
    }
    assert len(keys) == 8
    assert not any("t1" in key or "t2" in key for key in keys)


@pytest.mark.parametrize(
    ("query_token", "route_token", "default_token", "expected"),
    [
        ("query", "route", "default", "query"),
        (None, "route", "default", "route"),
        (None, None, "default", "default"),
    ],
    ids=["query-wins", "route-over-default", "default"],
)
def test_token_precedence(
    query_token: str | None, route_token: str | None, default_token: str, expected: str
) -> None:
    """?token= in the hook URL wins, then the repository's route, then HOOKRELAY_TRACKER_TOKEN."""
    default = Route(V5, token=default_token)
    route = Route(V3, token=route_token or default_token)
    table = Routing(default, {"octo/cat": route})
    (delivery,) = plan_push(push(commit("a")), table, token=query_token).deliveries
    assert delivery.token == expected
    assert delivery.target_url == V3.base_url


def test_no_token_anywhere_is_an_input_error() -> None:
    """A commit that should relay but has no Tracker token is refused with the fix in the reason."""
    with pytest.raises(InputError, match=r"\?token="):
        plan_push(push(commit("a")), Routing(Route(V5)))


def test_no_token_is_fine_when_nothing_would_be_queued() -> None:
    """A push whose commits are all skipped needs no token (tags, deletions, story-less commits)."""
    plan = plan_push(push(commit("a", "no story")), Routing(Route(V5)))
    assert plan.deliveries == ()


def test_routes_inherit_what_they_do_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings.routing() fills a route's missing fields from the global settings."""
    for name in [n for n in os.environ if n.startswith("HOOKRELAY_")]:
        monkeypatch.delenv(name)
    settings = Settings(
        tracker_url=V5.base_url,
        tracker_token="global",
        github_secret="global-secret",
        branches=("main",),
        routes={"Octo/Cat": {"target": V3.base_url}, "a/b": {"branches": [], "secret": "ab"}},
    )
    table = settings.routing()
    assert table.route_for("OCTO/cat") == Route(V3, "global", ("main",), "global-secret")
    assert table.route_for("a/b") == Route(V5, "global", (), "ab")
    assert table.route_for("other/repo") == table.default
    assert table.secrets() == ("global-secret", "ab")


def test_source_commit_ingest_uses_the_callers_token() -> None:
    """A source_commit posted to the ingest goes to the default target with the caller's token."""
    plan = plan_source_commit(
        SourceCommit.of(commit_id="x", message="[#5]", author="A"), routing(), token="caller"
    )
    assert plan.deliveries[0].token == "caller"


def _signed(body: bytes, secret: str | None) -> dict[str, str]:
    headers = {"X-GitHub-Event": "ping", "Content-Type": "application/json"}
    if secret is not None:
        headers["X-Hub-Signature-256"] = "sha256=" + sign(body, secret)
    return headers


@pytest.mark.parametrize(
    ("default_secret", "repository", "signed_with", "accepted"),
    [
        (None, "octo/cat", None, False),
        ("global", "octo/cat", "global", True),
        ("global", "octo/cat", None, False),
        ("global", "octo/cat", "wrong", False),
        (None, "octo/secret", "route", True),
        (None, "octo/secret", None, False),
        (None, "octo/secret", "other", False),
        ("global", "octo/secret", "global", False),
        (None, "octo/cat", "route", False),
    ],
    ids=[
        "unsigned-refused-once-any-secret-is-set",
        "global-ok",
        "global-missing",
        "global-wrong",
        "route-ok",
        "route-missing",
        "route-other",
        "route-not-global",
        "another-repositorys-secret",
    ],
)
def test_webhook_secret_is_the_repositorys(
    default_secret: str | None, repository: str, signed_with: str | None, accepted: bool
) -> None:
    """A webhook must be signed with its repository's secret (its route's, else the global one)."""
    table = Routing(Route(V5, secret=default_secret), {"octo/secret": Route(V5, secret="route")})
    body = json.dumps({"zen": "hi", "hook_id": 1, "repository": {"full_name": repository}})
    if accepted:
        event = read_webhook(_signed(body.encode(), signed_with), body.encode(), table)
        assert event == Ping("github", repository)
    else:
        with pytest.raises(SignatureError):
            read_webhook(_signed(body.encode(), signed_with), body.encode(), table)


def test_unsigned_webhooks_pass_only_where_no_secret_is_configured() -> None:
    """With no secret anywhere, an unsigned webhook is read; a route's secret closes that door."""
    body = json.dumps({"zen": "hi", "hook_id": 1, "repository": {"full_name": "octo/cat"}}).encode()
    open_table = Routing(Route(V5), {"octo/other": Route(V5, token="t")})
    assert read_webhook(_signed(body, None), body, open_table) == Ping("github", "octo/cat")
    closed_table = Routing(Route(V5), {"octo/other": Route(V5, secret="route")})
    with pytest.raises(SignatureError):
        read_webhook(_signed(body, None), body, closed_table)


def test_a_push_cannot_name_itself_through_another_forges_field() -> None:
    """A GitHub push is routed by repository.full_name only, so a GitLab-style project field
    cannot move it out of its route (and away from that route's secret)."""
    payload = {
        "ref": "refs/heads/main",
        "commits": [],
        "repository": {"full_name": "acme/rocket"},
        "project": {"path_with_namespace": "evil/x"},
    }
    body = json.dumps(payload).encode()
    table = Routing(Route(V5, token="default"), {"acme/rocket": Route(V5, secret="rocket")})
    headers = {**_signed(body, None), "X-GitHub-Event": "push"}
    with pytest.raises(SignatureError):
        read_webhook(headers, body, table)
    headers = {**_signed(body, "rocket"), "X-GitHub-Event": "push"}
    assert read_webhook(headers, body, table).repository == "acme/rocket"  # type: ignore[union-attr]


def test_ingested_revisions_are_told_apart_by_what_they_say() -> None:
    """Two repositories' r12 posted to the ingest get two keys; the same r12 again gets the same."""
    a = SourceCommit.of(commit_id="12", message="[#1] in A", author="svn")
    b = SourceCommit.of(commit_id="12", message="[#1] in B", author="svn")
    keys = [plan_source_commit(c, routing(), token="t").deliveries[0].dedupe_key for c in (a, b, a)]
    assert keys[0] != keys[1]
    assert keys[0] == keys[2]


@pytest.mark.parametrize("size", [1, 2, 3, 1000], ids=["one", "two", "three", "all"])
def test_planning_in_pieces_gives_the_whole_plan(size: int) -> None:
    """Pieces of any size add up to plan_push's deliveries and skips, in order."""
    commits = [commit(f"{n:x}", "[#1] s" if n % 3 else "no story") for n in range(7)]
    whole = plan_push(push(*commits), routing())
    pieces = list(plan_push_in_pieces(push(*commits), routing(), size=size))
    assert len(pieces) == -(-7 // size)
    assert tuple(d for p in pieces for d in p.deliveries) == whole.deliveries
    assert sum(p.skipped_total for p in pieces) == whole.skipped_total == 3


def test_a_missing_token_is_refused_before_the_first_piece() -> None:
    """With no token for the push, the very first piece raises: nothing could be queued."""
    pieces = plan_push_in_pieces(push(commit("a"), commit("b")), Routing(Route(V5)), size=1)
    with pytest.raises(InputError, match="no Tracker token"):
        next(pieces)
