"""Forge webhooks read into pushes and commits: real recorded deliveries and built edge cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookrelay.core.signatures import sign
from hookrelay.core.webhooks import (
    IgnoredEvent,
    Ping,
    Push,
    PushedCommit,
    decode_webhook,
    parse_webhook,
)
from hookrelay.exceptions import PayloadError, SignatureError, UnsupportedMediaType
from tests.conftest import FIXTURES, load_json

JSON = {"content-type": "application/json"}
PUSH = {**JSON, "X-GitHub-Event": "push"}


def github(event: str, payload: Any, **extra: str) -> dict[str, str]:
    """Headers GitHub sends with a delivery."""
    return {**JSON, "X-GitHub-Event": event, "X-GitHub-Delivery": "d-1", **extra}


def body_of(payload: Any) -> bytes:
    return json.dumps(payload).encode()


TAG_PUSHES = sorted(
    str(p.relative_to(FIXTURES))
    for p in FIXTURES.glob("github/*/push/*.json")
    if load_json(str(p.relative_to(FIXTURES)))["ref"].startswith("refs/tags/")
)


@pytest.mark.parametrize("path", TAG_PUSHES, ids=str)
def test_real_tag_pushes_carry_no_commits(path: str) -> None:
    """GitHub's recorded tag pushes and tag deletions are pushes with no commits."""
    event = parse_webhook(github("push", None), (FIXTURES / path).read_bytes())
    assert isinstance(event, Push)
    assert event.commits == ()
    assert event.branch is None
    assert event.repository == "Codertocat/Hello-World"


@pytest.mark.parametrize(
    "path",
    ["push/with-new-branch.payload.json", "push/with-no-username-committer.payload.json"],
    ids=str,
)
def test_real_github_push_with_a_commit(path: str) -> None:
    """GitHub's recorded branch pushes yield their one commit with every field."""
    event = parse_webhook(
        github("push", None), (FIXTURES / "github/api.github.com" / path).read_bytes()
    )
    assert isinstance(event, Push)
    assert event.forge == "github"
    assert event.delivery_id == "d-1"
    assert event.commits == (
        PushedCommit(
            id="6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            message="Initial commit",
            author_name="Codertocat",
            author_email="21031067+Codertocat@users.noreply.github.com",
            url="https://github.com/Codertocat/Hello-World/commit/6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            timestamp="2019-05-15T15:19:25Z",
            branch="master",
            distinct=True,
        ),
    )


FORGES = [
    (
        "github",
        "forges/github/push.json",
        {"X-GitHub-Event": "push"},
        "binkkatal/sample_app",
        "master",
        [("fd489864e7642b48eaad6e3f155c10e46810ec72", "test a push event", "binkkatal")],
    ),
    (
        "gitea",
        "forges/gitea/push-event.json",
        {"X-Gitea-Event": "push"},
        "example/example",
        "master",
        [("67b56589a45103f891bdee7c0546e5d40bc02001", "example\n", "example")],
    ),
    (
        "forgejo",
        "forges/gitea/push-event.json",
        {"X-Forgejo-Event": "push"},
        "example/example",
        "master",
        [("67b56589a45103f891bdee7c0546e5d40bc02001", "example\n", "example")],
    ),
    (
        "gogs",
        "forges/gogs/push-event.json",
        {"X-Gogs-Event": "push"},
        "unknwon/webhooks",
        "develop",
        [("bffeb74224043ba2feb48d137756c8a9331c449a", "Add new feature", "Unknwon")],
    ),
    (
        "gitlab",
        "forges/gitlab/push-event.json",
        {"X-Gitlab-Event": "Push Hook"},
        "mike/diaspora",
        "master",
        [
            (
                "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
                "Update Catalan translation to e38cb41.",
                "Jordi Mallach",
            ),
            ("da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "fixed readme", "GitLab dev user"),
        ],
    ),
    (
        "gitlab system hook",
        "forges/gitlab/system-push-event.json",
        {"X-Gitlab-Event": "System Hook"},
        "",
        "master",
        [
            (
                "c5feabde2d8cd023215af4d2ceeb7a64839fc428",
                "Add simple search to projects in public area",
                "Example User",
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("path", "headers", "repository", "branch", "commits"),
    [f[1:] for f in FORGES],
    ids=[f[0] for f in FORGES],
)
def test_real_forge_pushes(
    path: str,
    headers: dict[str, str],
    repository: str,
    branch: str,
    commits: list[tuple[str, str, str]],
) -> None:
    """Each forge's recorded push yields the commits it holds, on the branch it names."""
    event = parse_webhook({**JSON, **headers}, (FIXTURES / path).read_bytes())
    assert isinstance(event, Push)
    if repository:
        assert event.repository == repository
    assert event.branch == branch
    assert [(c.id, c.message, c.author_name) for c in event.commits] == commits
    assert all(c.url.endswith(c.id) for c in event.commits)


def test_signed_real_gitea_delivery() -> None:
    """A Gitea delivery signed with X-Gitea-Signature verifies before it is read."""
    body = (FIXTURES / "forges/gitea/push-event.json").read_bytes()
    headers = {**JSON, "X-Gitea-Event": "push", "X-Gitea-Signature": sign(body, "k")}
    assert isinstance(parse_webhook(headers, body, secret="k"), Push)
    with pytest.raises(SignatureError):
        parse_webhook(headers, body, secret="other")


def test_gitlab_token_is_checked() -> None:
    """A GitLab delivery needs X-Gitlab-Token equal to the secret."""
    body = (FIXTURES / "forges/gitlab/push-event.json").read_bytes()
    headers = {**JSON, "X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "k"}
    assert isinstance(parse_webhook(headers, body, secret="k"), Push)
    with pytest.raises(SignatureError):
        parse_webhook({**headers, "X-Gitlab-Token": "nope"}, body, secret="k")


@pytest.mark.parametrize(
    "path",
    [
        *sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("github/*/ping/*.json")),
        "forges/github/ping.json",
    ],
    ids=str,
)
def test_real_pings(path: str) -> None:
    """GitHub's recorded pings are recognised as pings."""
    assert isinstance(parse_webhook(github("ping", None), (FIXTURES / path).read_bytes()), Ping)


def test_other_events_are_ignored() -> None:
    """An event other than push or ping is recognised and ignored, not an error."""
    assert parse_webhook(github("issues", None), b'{"action": "opened"}') == IgnoredEvent(
        "github", "issues"
    )
    assert parse_webhook({**JSON, "X-Gitlab-Event": "Tag Push Hook"}, b"{}") == IgnoredEvent(
        "gitlab", "Tag Push Hook"
    )


def built_push(**overrides: Any) -> dict[str, Any]:
    """A GitHub push of three commits, the middle one not distinct (already on another branch)."""
    commits = [
        {
            "id": f"{n:040x}",
            "message": f"[#{n}] step {n}",
            "timestamp": "2026-01-01T00:00:00Z",
            "url": f"https://github.com/o/r/commit/{n:040x}",
            "distinct": n != 2,
            "author": {"name": f"Dev {n}", "email": f"dev{n}@example.com", "username": f"dev{n}"},
        }
        for n in (1, 2, 3)
    ]
    return {
        "ref": "refs/heads/feature/x",
        "before": "a" * 40,
        "after": "b" * 40,
        "deleted": False,
        "forced": True,
        "commits": commits,
        "repository": {"full_name": "o/r"},
        **overrides,
    }


def test_built_multi_commit_push() -> None:
    """A multi-commit push keeps order, branch names with slashes, and the distinct flag."""
    event = parse_webhook(github("push", None), body_of(built_push()))
    assert isinstance(event, Push)
    assert [c.id[-1] for c in event.commits] == ["1", "2", "3"]
    assert [c.distinct for c in event.commits] == [True, False, True]
    assert {c.branch for c in event.commits} == {"feature/x"}
    source = event.commits[0].to_source_commit()
    assert (source.commit_id, source.author, source.message) == (
        f"{1:040x}",
        "Dev 1",
        "[#1] step 1",
    )


def test_branch_deletion_carries_no_commits() -> None:
    """A deleted branch yields no commits even if the payload lists some."""
    for payload in (built_push(deleted=True), built_push(after="0" * 40)):
        event = parse_webhook(github("push", None), body_of(payload))
        assert isinstance(event, Push)
        assert event.commits == ()


def test_form_encoded_payload() -> None:
    """A form-encoded delivery (payload=…) reads the same as JSON."""
    body = urlencode({"payload": json.dumps(built_push())}).encode()
    headers = {"content-type": "application/x-www-form-urlencoded", "X-GitHub-Event": "push"}
    event = parse_webhook(headers, body)
    assert isinstance(event, Push)
    assert len(event.commits) == 3


def test_headerless_push_is_recognised_by_shape() -> None:
    """An old form-encoded hook with no event header is read as a push when it has a push's shape."""
    body = urlencode({"payload": json.dumps(built_push())}).encode()
    event = parse_webhook({"content-type": "application/x-www-form-urlencoded"}, body)
    assert isinstance(event, Push)


def test_author_falls_back_to_username_then_email() -> None:
    """A commit whose author has no name is credited to the username, else the email."""
    payload = built_push()
    payload["commits"][0]["author"] = {"name": "", "email": "e@x", "username": "u"}
    payload["commits"][1]["author"] = {"email": "e@x"}
    event = parse_webhook(github("push", None), body_of(payload))
    assert isinstance(event, Push)
    assert [c.author_name for c in event.commits[:2]] == ["u", "e@x"]


BAD = [
    ("not json", PUSH, b"{nope", PayloadError),
    ("json array", PUSH, b"[]", PayloadError),
    ("no ref", PUSH, body_of({"commits": []}), PayloadError),
    ("commits not a list", PUSH, body_of(built_push(commits={})), PayloadError),
    ("commit without id", PUSH, body_of(built_push(commits=[{"message": "x"}])), PayloadError),
    ("commit id not text", PUSH, body_of(built_push(commits=[{"id": 5}])), PayloadError),
    (
        "form without payload",
        {"content-type": "application/x-www-form-urlencoded"},
        b"a=1",
        PayloadError,
    ),
    (
        "xml content type",
        {"content-type": "application/xml", "X-GitHub-Event": "push"},
        b"<a/>",
        UnsupportedMediaType,
    ),
    ("headerless non-push", JSON, b'{"hello": 1}', PayloadError),
    ("deeply nested", PUSH, b"[" * 100_000 + b"]" * 100_000, PayloadError),
]


@pytest.mark.parametrize(
    ("headers", "body", "error"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_bodies(headers: dict[str, str], body: bytes, error: type[Exception]) -> None:
    """A body that is not a push we understand is refused with a one-line reason."""
    with pytest.raises(error) as caught:
        parse_webhook(headers, body)
    assert "\n" not in str(caught.value)


def test_signature_is_checked_before_the_body_is_read() -> None:
    """An unsigned garbage body is refused for its signature, not parsed."""
    with pytest.raises(SignatureError):
        parse_webhook(github("push", None), b"{garbage", secret="s")


def test_fixture_folder_is_complete() -> None:
    """The recorded deliveries this suite relies on are present in the clone."""
    assert len(list(Path(FIXTURES).glob("github/*/push/*.json"))) == 8


# --- the typed read of a usual push equals the general one --------------------------------------

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=6))


def _or_scalar(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``values``, now and then a value of another type."""
    return st.integers(0, 7).flatmap(lambda n: values if n else _SCALARS)


_PEOPLE = _or_scalar(
    st.fixed_dictionaries(
        {},
        optional={
            "name": _or_scalar(st.text(max_size=8)),
            "email": _or_scalar(st.text(max_size=8)),
            "username": _or_scalar(st.text(max_size=8)),
        },
    ),
)
_COMMITS = _or_scalar(
    st.fixed_dictionaries(
        {"id": _or_scalar(st.text("0123456789abcdef", max_size=40))},
        optional={
            "message": _or_scalar(st.text(max_size=20)),
            "url": _or_scalar(st.text(max_size=10)),
            "timestamp": _or_scalar(st.text(max_size=10)),
            "author": _PEOPLE,
            "distinct": _SCALARS,
            "added": st.lists(st.text(max_size=5), max_size=2),
        },
    ),
)
_PUSHES = st.fixed_dictionaries(
    {"ref": _or_scalar(st.sampled_from(["refs/heads/main", "refs/heads/a/b", "refs/tags/v1"]))},
    optional={
        "after": _or_scalar(st.sampled_from(["0" * 40, "a" * 40])),
        "deleted": _SCALARS,
        "repository": _or_scalar(
            st.fixed_dictionaries(
                {}, optional={"full_name": _or_scalar(st.sampled_from(["octo/cat", ""]))}
            )
        ),
        "commits": _or_scalar(st.lists(_COMMITS, max_size=3)),
    },
)


def _read(headers: dict[str, str], body: bytes) -> object:
    try:
        return decode_webhook(headers, body)
    except PayloadError as exc:
        return ("refused", str(exc))


@settings(max_examples=400, deadline=None)
@given(_PUSHES)
def test_a_json_push_reads_as_the_same_push_either_way(payload: dict[str, Any]) -> None:
    """A JSON push body is read in one typed pass when it has the usual shape; whatever it
    holds, the result (or the refusal and its words) is what the general reading gives, here
    reached through the form encoding."""
    body = body_of(payload)
    form = urlencode({"payload": body.decode()}).encode()
    general = _read(
        {"Content-Type": "application/x-www-form-urlencoded", "X-GitHub-Event": "push"}, form
    )
    assert _read(PUSH, body) == general
