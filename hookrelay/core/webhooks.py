"""Forge webhooks as data: ``verify_webhook`` checks the signature, ``decode_webhook`` reads.

The signature is checked on the raw body *before* anything is decoded (as gidgethub's
``sansio.Event.from_http`` does), and the body is decoded once; ``parse_webhook`` does both for
one secret. What is read:

* GitHub ``push`` ("Webhook events and payloads": ``ref``, ``deleted``, ``commits[]`` with ``id``,
  ``message``, ``author{name,email}``, ``url``, ``timestamp``, ``distinct``), as JSON or as the
  form field ``payload=`` (``application/x-www-form-urlencoded`` webhooks);
* Gitea, Forgejo and Gogs, which send GitHub's shape under their own event headers;
* GitLab's ``Push Hook`` (``object_kind: push``), whose commits carry no ``distinct`` flag.

Tag pushes and branch deletions carry no commits; ``ping`` and every other event are recognised
so the edge can answer 2xx without queueing anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from hookrelay.core.signatures import verify_gitlab_token, verify_signature
from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.webhook_body import BIG_BODY_BYTES, decode_body
from hookrelay.exceptions import PayloadError, SignatureError

__all__ = [
    "IgnoredEvent",
    "Ping",
    "Push",
    "PushedCommit",
    "WebhookEvent",
    "decode_push",
    "decode_webhook",
    "encode_push",
    "parse_webhook",
    "verify_webhook",
]

_EVENT_HEADERS = (
    ("x-github-event", "github"),
    ("x-gitea-event", "gitea"),
    ("x-forgejo-event", "forgejo"),
    ("x-gogs-event", "gogs"),
    ("x-gitlab-event", "gitlab"),
)
_ZERO_SHA = "0" * 40


class PushedCommit(msgspec.Struct, frozen=True, array_like=True):
    """One commit of a push, with the branch it was pushed to (a frozen struct: a push of
    twenty is made in a fifth of the time frozen dataclasses take; encoded as an array)."""

    id: str
    message: str
    author_name: str
    author_email: str
    url: str
    timestamp: str
    branch: str
    distinct: bool = True

    def to_source_commit(self) -> SourceCommit:
        """The ``source_commit`` Tracker is given for this commit."""
        return SourceCommit.of(
            commit_id=self.id, message=self.message, author=self.author_name, url=self.url
        )


@dataclass(frozen=True, slots=True)
class Push:
    """A push: the repository, the ref, and the commits it brought (none for tags and deletions)."""

    forge: str
    repository: str
    ref: str
    branch: str | None
    commits: tuple[PushedCommit, ...]
    delivery_id: str = ""


@dataclass(frozen=True, slots=True)
class Ping:
    """A forge checking that the hook answers."""

    forge: str
    repository: str = ""


@dataclass(frozen=True, slots=True)
class IgnoredEvent:
    """An event hookrelay has no use for (issues, stars, …), answered 2xx and dropped."""

    forge: str
    event: str


WebhookEvent = Push | Ping | IgnoredEvent


_DELIVERY_HEADERS = ("x-github-delivery", "x-gitea-delivery", "x-gogs-delivery")


_PUSH_ENCODER = msgspec.msgpack.Encoder()
_PUSH_DECODER = msgspec.msgpack.Decoder(Push)


def encode_push(push: Push) -> bytes:
    """``push`` as bytes (MessagePack), to keep until it is planned: half a GitHub body's size."""
    return _PUSH_ENCODER.encode(push)


def decode_push(data: bytes) -> Push:
    """The push ``encode_push`` made ``data`` of; ``PayloadError`` if it is not one."""
    try:
        return _PUSH_DECODER.decode(data)
    except msgspec.MsgspecError as exc:
        raise PayloadError(f"not a push kept by hookrelay: {exc}") from None


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in {"", "application/json"} or media_type.endswith("+json")


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _forge_and_event(headers: Mapping[str, str]) -> tuple[str, str | None]:
    for header, forge in _EVENT_HEADERS:
        if header in headers:
            return forge, headers[header].strip()
    return "github", None


def _text(mapping: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = mapping.get(key)
    if value is None:
        if required:
            raise PayloadError(f"{where} has no {key!r}")
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{where}.{key} is not a string")
    return value


def _person(commit: Mapping[str, Any], where: str) -> tuple[str, str]:
    author = commit.get("author") or {}
    if not isinstance(author, Mapping):
        raise PayloadError(f"{where}.author is not an object")
    name = _text(author, "name", f"{where}.author")
    email = _text(author, "email", f"{where}.author")
    return name or _text(author, "username", f"{where}.author") or email, email


def _commit(item: Any, index: int, branch: str) -> PushedCommit:
    where = f"commits[{index}]"
    if not isinstance(item, Mapping):
        raise PayloadError(f"{where} is not an object")
    commit_id = _text(item, "id", where, required=True)
    if not commit_id:
        raise PayloadError(f"{where}.id is empty")
    name, email = _person(item, where)
    distinct = item.get("distinct", True)
    return PushedCommit(
        id=commit_id,
        message=_text(item, "message", where),
        author_name=name,
        author_email=email,
        url=_text(item, "url", where),
        timestamp=_text(item, "timestamp", where),
        branch=branch,
        distinct=distinct is not False,
    )


def _commits(payload: Mapping[str, Any], branch: str) -> tuple[PushedCommit, ...]:
    raw = payload.get("commits")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PayloadError("push.commits is not a list")
    # A big body's commits were converted as they were read, once its ref was known.
    return tuple(
        item if isinstance(item, PushedCommit) else _commit(item, index, branch)
        for index, item in enumerate(raw)
    )


def _convert_early(item: Any, index: int, members: Mapping[str, Any]) -> Any:
    """Convert a commit while a big body is read, if the ref read so far names a branch."""
    ref = members.get("ref")
    if not isinstance(ref, str) or not ref.startswith("refs/heads/"):
        return item  # no branch yet (or none at all): _commits decides later
    return _commit(item, index, ref.removeprefix("refs/heads/"))


def _repository(payload: Mapping[str, Any], forge: str) -> str:
    """The repository's full name from the forge's own field: ``repository.full_name`` (GitHub,
    Gitea, Forgejo, Gogs) or GitLab's ``project.path_with_namespace``.

    Only that field counts: routes (tokens, secrets) are chosen by this name, so a payload must
    not be able to name itself through another forge's field.
    """
    candidates = (
        (("project", "path_with_namespace"),)
        if forge == "gitlab"
        else (("repository", "full_name"),)
    )
    for outer, key in candidates:
        section = payload.get(outer)
        value = section.get(key) if isinstance(section, Mapping) else None
        if isinstance(value, str) and value:
            return value
    return ""


def _push(forge: str, payload: Mapping[str, Any], delivery_id: str) -> Push:
    ref = _text(payload, "ref", "push", required=True)
    repository = _repository(payload, forge)
    deleted = payload.get("deleted") is True or payload.get("after") == _ZERO_SHA
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    if branch is None or deleted:
        return Push(forge, repository, ref, branch, (), delivery_id)
    return Push(forge, repository, ref, branch, _commits(payload, branch), delivery_id)


def verify_webhook(headers: Mapping[str, str], body: bytes, secrets: Sequence[str]) -> str | None:
    """Which of ``secrets`` signed ``body`` (None when there are no secrets to check).

    Each secret is checked on the raw body (GitLab: its ``X-Gitlab-Token``); ``SignatureError``
    with the first secret's reason when none matches.
    """
    if not secrets:
        return None
    lowered = _lower(headers)
    forge, _ = _forge_and_event(lowered)
    failure: SignatureError | None = None
    for secret in secrets:
        try:
            if forge == "gitlab":
                verify_gitlab_token(lowered, secret)
            else:
                verify_signature(lowered, body, secret)
        except SignatureError as exc:
            failure = failure or exc
            continue
        return secret
    assert failure is not None  # noqa: S101 - secrets is not empty
    raise failure


def parse_webhook(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str | None = None,
) -> WebhookEvent:
    """Validate and read one forge webhook delivery.

    With a ``secret``, the signature is checked on the raw body first (``SignatureError``).
    A body that is not a push, ping or other forge event raises ``PayloadError``.
    """
    verify_webhook(headers, body, (secret,) if secret else ())
    return decode_webhook(headers, body)


class _Author(msgspec.Struct):
    name: str | None = None
    email: str | None = None
    username: str | None = None


class _Commit(msgspec.Struct):
    id: str
    message: str | None = None
    url: str | None = None
    timestamp: str | None = None
    author: _Author | None = None
    distinct: Any = True


class _Repository(msgspec.Struct):
    full_name: str | None = None


class _PushBody(msgspec.Struct):
    ref: str
    after: Any = None
    deleted: Any = None
    repository: _Repository | None = None
    commits: list[_Commit] | None = None


_PUSH_BODY = msgspec.json.Decoder(_PushBody)


def _typed_push(forge: str, body: bytes, delivery_id: str) -> Push | None:
    """A JSON push of GitHub's shape read in one typed pass (msgspec: a tenth of the time of
    ``json.loads`` and the checks below), or None when the body is anything else (another
    encoding, a field of an unexpected type, an empty commit id, …): it is then read the long
    way, which gives the same result for every body this one reads, and words to its errors."""
    try:
        payload = _PUSH_BODY.decode(body)
    except msgspec.MsgspecError:
        return None
    repository = payload.repository.full_name if payload.repository else None
    ref = payload.ref
    deleted = payload.deleted is True or payload.after == _ZERO_SHA
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    if branch is None or deleted:
        return Push(forge, repository or "", ref, branch, (), delivery_id)
    commits = []
    for item in payload.commits or ():
        author = item.author
        if not item.id:
            return None
        name = email = ""
        if author is not None:
            email = author.email or ""
            name = author.name or author.username or email
        commits.append(
            PushedCommit(
                id=item.id,
                message=item.message or "",
                author_name=name,
                author_email=email,
                url=item.url or "",
                timestamp=item.timestamp or "",
                branch=branch,
                distinct=item.distinct is not False,
            )
        )
    return Push(forge, repository or "", ref, branch, tuple(commits), delivery_id)


def decode_webhook(headers: Mapping[str, str], body: bytes) -> WebhookEvent:
    """Read one forge webhook delivery whose signature was checked (or needs none).

    A body that is not a push, ping or other forge event raises ``PayloadError``.
    """
    lowered = _lower(headers)
    forge, event = _forge_and_event(lowered)
    if (
        event == "push"
        and forge != "gitlab"
        and len(body) <= BIG_BODY_BYTES
        and _is_json(lowered.get("content-type", ""))
    ):
        delivery_id = next((lowered[h] for h in _DELIVERY_HEADERS if h in lowered), "")
        push = _typed_push(forge, body, delivery_id)
        if push is not None:
            return push
    payload = decode_body(body, lowered.get("content-type", ""), convert_commit=_convert_early)
    if not isinstance(payload, Mapping):
        raise PayloadError("body is not a JSON object")
    delivery_id = next((lowered[h] for h in _DELIVERY_HEADERS if h in lowered), "")
    if forge == "gitlab":
        return _gitlab(event or "", payload, delivery_id)
    if event is None:
        # Old form-encoded "services" hooks sent no event header: accept what has a push's shape.
        if "ref" in payload and "commits" in payload:
            event = "push"
        elif "zen" in payload or "hook_id" in payload:
            event = "ping"
        else:
            raise PayloadError("no X-GitHub-Event header and the body is not a push")
    if event == "ping":
        return Ping(forge, _repository(payload, forge))
    if event != "push":
        return IgnoredEvent(forge, event)
    return _push(forge, payload, delivery_id)


def _gitlab(event: str, payload: Mapping[str, Any], delivery_id: str) -> WebhookEvent:
    # Project hooks say object_kind, system hooks event_name.
    kind = payload.get("object_kind") or payload.get("event_name")
    if event not in {"Push Hook", "System Hook"} and event:
        return IgnoredEvent("gitlab", event)
    if kind != "push":
        return IgnoredEvent("gitlab", str(kind or event))
    return _push("gitlab", payload, delivery_id)
