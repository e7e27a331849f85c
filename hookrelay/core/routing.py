"""Which commits of a push go where: the routing between a webhook and the durable queue.

No I/O here: it takes a decoded push (or one ``source_commit``) and the routing table
(``Settings.routing()`` builds it from the settings, with plain strings for secrets and
tokens), and returns the ``NewDelivery`` rows to queue plus what it skipped and why:

================  ==============================================================================
skip reason       when
================  ==============================================================================
``branch``        the branch matches none of the route's globs (``HOOKRELAY_BRANCHES``, routes)
``not_distinct``  GitHub marks the commit ``distinct: false`` (it was pushed before) and every
                  branch relays, so the earlier push already brought it; with a branch filter
                  the earlier push may have been filtered out, so the dedupe key decides instead
``no_story``      the message names no story and ``HOOKRELAY_ALL_COMMITS`` is off
================  ==============================================================================

A commit that is queued twice (redelivery, ten branches, two replicas) is a no-op in the store,
whose unique dedupe key is target + token fingerprint + commit id.
"""

from __future__ import annotations

import enum
import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from hookrelay.core.branches import branch_relays
from hookrelay.core.messages import names_a_story, parse_message
from hookrelay.core.source_commit import SourceCommit, render
from hookrelay.core.text import shorten
from hookrelay.core.tracker_api import TrackerTarget, token_fingerprint
from hookrelay.core.webhooks import (
    Push,
    PushedCommit,
    WebhookEvent,
    decode_webhook,
    verify_webhook,
)
from hookrelay.exceptions import InputError, SignatureError

__all__ = [
    "NewDelivery",
    "Plan",
    "Route",
    "Routing",
    "SkipReason",
    "TokenSource",
    "dedupe_key",
    "ingested_commit_key",
    "plan_push",
    "plan_push_in_pieces",
    "plan_source_commit",
    "read_webhook",
    "tally_push",
]

_SUMMARY_LENGTH = 120


class TokenSource(enum.StrEnum):
    """Where a delivery's token came from, which decides whether a retry may replace it."""

    SETTINGS = "settings"
    """The default or a route's token: a retry uses the one the settings hold now."""
    COMMIT = "commit"
    """Brought by the commit (``?token=``, the Tracker-compatible ingest): a retry keeps it."""
    UNKNOWN = ""
    """Queued before hookrelay recorded it: a retry keeps it, since nobody knows."""


class SkipReason(enum.StrEnum):
    """Why a commit was not queued (the ``reason`` label of the skipped metric).

    The plan decides the first three; ``DUPLICATE`` is the store's answer for a commit whose
    dedupe key it already holds.
    """

    BRANCH = "branch"
    NOT_DISTINCT = "not_distinct"
    NO_STORY = "no_story"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A commit to queue for one Tracker target.

    ``dedupe_key`` is target + token fingerprint + commit id: a second enqueue of the same key is
    a no-op, however it arrives (redelivery, another branch, another replica).
    """

    dedupe_key: str
    target_url: str
    token: str = field(repr=False)  # needed to deliver; never shown
    token_fingerprint: str
    commit_id: str
    body: bytes
    repository: str = ""
    branch: str = ""
    summary: str = ""
    repaired: str = ""  # what the ingest repaired in a body an old script broke ("" if nothing)
    token_source: TokenSource = TokenSource.SETTINGS
    story_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    """Where one repository's commits go: a target, a token, the branches that relay, a secret."""

    target: TrackerTarget
    token: str | None = None
    branches: tuple[str, ...] = ()
    secret: str | None = None

    def relays(self, branch: str) -> bool:
        """Whether commits pushed to ``branch`` are relayed (no globs: every branch)."""
        return branch_relays(branch, self.branches)


@dataclass(frozen=True, slots=True)
class Routing:
    """The default route, per-repository routes, and whether story-less commits relay."""

    default: Route
    repositories: Mapping[str, Route] = field(default_factory=dict)
    all_commits: bool = False

    def route_for(self, repository: str) -> Route:
        """The route of ``owner/name`` (case-insensitive), or the default route."""
        return self.repositories.get(repository.lower(), self.default)

    def secrets(self) -> tuple[str, ...]:
        """Every distinct webhook secret, the default one first."""
        routes: Iterable[Route] = (self.default, *self.repositories.values())
        return tuple(dict.fromkeys(r.secret for r in routes if r.secret))


@dataclass(frozen=True, slots=True)
class Plan:
    """The deliveries to queue for one push, and how many commits were skipped for each reason."""

    deliveries: tuple[NewDelivery, ...]
    skipped: Mapping[SkipReason, int]

    @property
    def skipped_total(self) -> int:
        """How many commits were skipped, whatever the reason."""
        return sum(self.skipped.values())


def dedupe_key(target: TrackerTarget, fingerprint: str, commit_id: str) -> str:
    """The store's unique key: one commit goes once to one target with one token."""
    return f"{target.base_url} {fingerprint} {commit_id}"


def ingested_commit_key(commit: SourceCommit) -> str:
    """What names a commit posted to the Tracker-compatible ingest, for dedupe.

    A git commit id names one commit everywhere, but old Subversion hook scripts send revision
    numbers, and r12 of two repositories (with one token) are different commits. The ingest
    knows no repository, so the key adds a digest of what the commit says: the same script
    posting the same revision again is still a duplicate, another repository's r12 is not.
    """
    content = "\0".join((commit.author, commit.message, commit.url)).encode("utf-8")
    return f"{commit.commit_id} {hashlib.sha256(content).hexdigest()[:16]}"


def read_webhook(headers: Mapping[str, str], body: bytes, routing: Routing) -> WebhookEvent:
    """Verify and decode a forge webhook; its signature must be its own repository's.

    Each configured secret is tried on the raw body (an HMAC each) before anything is decoded,
    and the body is decoded once. The repository it names must then be one whose route expects
    the secret that matched: a route's secret authenticates its own repository only. Once any
    secret is configured (the default or a route's), nothing unsigned is decoded at all, so a
    push cannot dodge a route's secret by naming another repository.
    """
    secrets = routing.secrets()
    matched = verify_webhook(headers, body, secrets)
    event = decode_webhook(headers, body)
    expected = routing.route_for(getattr(event, "repository", "")).secret
    if expected != matched:
        raise SignatureError(
            "the signature was made with another repository's secret"
            if expected is not None
            else "the signature matches no secret for this repository"
        )
    return event


def plan_push(push: Push, routing: Routing, *, token: str | None = None) -> Plan:
    """Split ``push`` into the deliveries to queue; ``token`` (from ``?token=``) wins over routes.

    ``InputError`` when a commit should be queued but no Tracker token is known for it.
    """
    deliveries: list[NewDelivery] = []
    skipped: Counter[SkipReason] = Counter()
    for piece in plan_push_in_pieces(push, routing, token=token):
        deliveries += piece.deliveries
        skipped.update(piece.skipped)
    return Plan(tuple(deliveries), skipped)


def plan_push_in_pieces(
    push: Push, routing: Routing, *, token: str | None = None, size: int = 1000
) -> Iterator[Plan]:
    """``plan_push`` a piece of at most ``size`` commits at a time, so the rendered bodies of a
    push of 36,000 commits are not all held at once (they are queued piece by piece).

    The token is checked before the first delivery is made, so ``InputError`` comes before
    anything of the push could have been queued.
    """
    route = routing.route_for(push.repository)
    chosen: tuple[str, str] | None = None  # the token and its fingerprint, once needed
    # A token the commit brought (?token=) stays on a retry; one from the settings is replaced.
    source = TokenSource.COMMIT if token else TokenSource.SETTINGS
    for start in range(0, len(push.commits), size):
        skipped: Counter[SkipReason] = Counter()
        deliveries = []
        for commit in push.commits[start : start + size]:
            reason = _skip_reason(commit, route, routing)
            if reason is not None:
                skipped[reason] += 1
            else:
                if chosen is None:
                    known = _token(token, route, push.repository)
                    chosen = (known, token_fingerprint(known))
                deliveries.append(
                    _delivery(
                        commit.to_source_commit(), route.target, *chosen, push.repository,
                        commit.branch, token_source=source,
                    )
                )  # fmt: skip
        yield Plan(tuple(deliveries), skipped)


def tally_push(
    push: Push, routing: Routing, *, token: str | None = None
) -> tuple[int, Counter[SkipReason]]:
    """How many of ``push``'s commits its plan would queue, and what it would skip and why,
    without making the deliveries (``plan_push``'s rules, and its ``InputError`` when a commit
    should be queued but no Tracker token is known)."""
    route = routing.route_for(push.repository)
    relayed = 0
    skipped: Counter[SkipReason] = Counter()
    for commit in push.commits:
        reason = _skip_reason(commit, route, routing)
        if reason is None:
            relayed += 1
        else:
            skipped[reason] += 1
    if relayed:
        _token(token, route, push.repository)
    return relayed, skipped


def _skip_reason(commit: PushedCommit, route: Route, routing: Routing) -> SkipReason | None:
    """Why ``commit`` is not queued, or None when it is."""
    if not route.relays(commit.branch):
        return SkipReason.BRANCH
    if not commit.distinct and not route.branches:
        return SkipReason.NOT_DISTINCT
    if not routing.all_commits and not names_a_story(commit.message):
        return SkipReason.NO_STORY
    return None


def plan_source_commit(
    commit: SourceCommit, routing: Routing, *, token: str, repository: str = "", repaired: str = ""
) -> Plan:
    """The delivery of one ``source_commit`` posted to the Tracker-compatible ingest;
    ``repaired`` says what was mended in a body an old script broke (shown to the operator)."""
    if not routing.all_commits and not parse_message(commit.message):
        return Plan((), {SkipReason.NO_STORY: 1})
    route = routing.route_for(repository)
    delivery = _delivery(
        commit,
        route.target,
        token,
        token_fingerprint(token),
        repository,
        "",
        token_source=TokenSource.COMMIT,
    )
    key = dedupe_key(route.target, delivery.token_fingerprint, ingested_commit_key(commit))
    return Plan((replace(delivery, dedupe_key=key, repaired=repaired),), {})


def _token(explicit: str | None, route: Route, repository: str) -> str:
    chosen = explicit or route.token
    if not chosen:
        where = f" for {repository}" if repository else ""
        raise InputError(
            f"no Tracker token{where}: add ?token= to the hook URL or set HOOKRELAY_TRACKER_TOKEN"
        )
    return chosen


def _summary(message: str) -> str:
    first = message.strip().split("\n", 1)[0].strip()
    return shorten(first, _SUMMARY_LENGTH)


def _delivery(  # noqa: PLR0917 - the fields of a delivery
    commit: SourceCommit,
    target: TrackerTarget,
    token: str,
    fingerprint: str,
    repository: str,
    branch: str,
    *,
    token_source: TokenSource,
) -> NewDelivery:
    return NewDelivery(
        dedupe_key=dedupe_key(target, fingerprint, commit.commit_id),
        target_url=target.base_url,
        token=token,
        token_fingerprint=fingerprint,
        commit_id=commit.commit_id,
        body=render(commit, target.version),
        repository=repository,
        branch=branch,
        summary=_summary(commit.message),
        token_source=token_source,
        story_ids=tuple(dict.fromkeys(ref.id for ref in parse_message(commit.message))),
    )
