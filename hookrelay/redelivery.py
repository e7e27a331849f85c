"""Retrying deliveries with today's settings: the CLI, the HTTP API and the dashboard all call this.

A dead letter usually died of a setting (a wrong token, a moved Tracker). Once the setting is
fixed, a retry must not post the old token again, so each retried delivery is sent with what
its repository's route has *now*:

============================  ==================================================================
the delivery's token came     a retry posts it with
============================  ==================================================================
from the settings             today's token of its route (the route's, else the default) and
                              today's target of its route
with the commit               its own token (``?token=``, the Tracker-compatible ingest), to
                              today's target of its route
from before hookrelay kept    its own token and target, unchanged (nobody knows where it came
where tokens came from        from)
============================  ==================================================================

A new target of the other API version gets the body rendered again for that version. When
today's target and token already have the commit (queued or delivered), the retry is refused:
posting it again would post it twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import SecretStr

from hookrelay.core.ingest import read_v3_xml, read_v5_json
from hookrelay.core.routing import Routing, dedupe_key
from hookrelay.core.source_commit import ApiVersion, render
from hookrelay.core.tracker_api import TrackerTarget, token_fingerprint
from hookrelay.emulator.demo import DEMO_TOKEN
from hookrelay.exceptions import HookrelayError
from hookrelay.listening import url_host
from hookrelay.queue.store import (
    Delivery,
    QueueStore,
    Redirect,
    RetryOutcome,
    State,
    TokenSource,
)
from hookrelay.settings import Settings

__all__ = ["RetryReport", "plan_retry", "retry_deliveries", "routing_of_serve"]


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """Where a retry sends a delivery, and how to say so."""

    redirect: Redirect | None
    """None: the delivery goes as it is."""
    explanation: str


@dataclass(frozen=True, slots=True)
class RetryReport:
    """What a retry of one delivery did, in words the operator reads."""

    delivery_id: int
    commit_id: str
    outcome: RetryOutcome
    explanation: str

    @property
    def retried(self) -> bool:
        """Whether the delivery is due again."""
        return self.outcome is RetryOutcome.RETRIED

    def line(self) -> str:
        """One line for the CLI and the dashboard."""
        head = f"delivery {self.delivery_id} (commit {self.commit_id[:12]})"
        if self.outcome is RetryOutcome.RETRIED:
            return f"{head} is due now, {self.explanation}"
        if self.outcome is RetryOutcome.ALREADY_QUEUED:
            return (
                f"{head} was not retried: {self.explanation}, which already has this commit "
                "(queued or delivered)"
            )
        return f"{head} was not retried: {self.explanation}"


def routing_of_serve(settings: Settings) -> Routing:
    """The routing ``hookrelay serve`` delivers with, for commands that run beside it.

    With no Tracker configured, serve delivers to its built-in emulator at ``/emulator`` on its
    own address, with the configured token or the demo token; so does a retry from the CLI.
    """
    if "tracker_url" in settings.model_fields_set:
        return settings.routing()

    token = settings.tracker_token.get_secret_value() if settings.tracker_token else DEMO_TOKEN
    url = f"http://{url_host(settings.host)}:{settings.port}/emulator/services/v5"
    return settings.model_copy(
        update={"tracker_url": url, "tracker_token": SecretStr(token)}
    ).routing()


def plan_retry(delivery: Delivery, routing: Routing) -> RetryPlan:
    """Where a retry of ``delivery`` goes with today's settings (see the module's table)."""
    old_target = TrackerTarget.parse(delivery.target_url)
    if delivery.token_source is TokenSource.UNKNOWN:
        return RetryPlan(
            None,
            f"with the token it was queued with (fingerprint {delivery.token_fingerprint}; "
            f"queued before hookrelay recorded where tokens came from) to {old_target.base_url}",
        )
    route = routing.route_for(delivery.repository)
    if delivery.token_source is TokenSource.COMMIT:
        token, whose = delivery.token, "its own token (brought by the commit)"
    elif route.token is None:
        token, whose = delivery.token, "the token it was queued with (no token is configured now)"
    else:
        token, whose = route.token, "today's token"
    fingerprint = token_fingerprint(token)
    target = route.target
    explanation = f"with {whose} (fingerprint {fingerprint}) to {target.base_url}"
    if target.base_url == old_target.base_url and fingerprint == delivery.token_fingerprint:
        return RetryPlan(None, explanation)
    # The key is "target fingerprint what-names-the-commit" (``routing.dedupe_key``); keep the
    # last part.
    commit_key = delivery.dedupe_key.split(" ", 2)[-1]
    return RetryPlan(
        Redirect(
            target_url=target.base_url,
            token=token,
            token_fingerprint=fingerprint,
            dedupe_key=dedupe_key(target, fingerprint, commit_key),
            body=_rendered_for(delivery.body, old_target.version, target.version),
        ),
        explanation,
    )


def _rendered_for(body: bytes, was: ApiVersion, now: ApiVersion) -> bytes:
    if was is now:
        return body
    commit = read_v3_xml(body) if was is ApiVersion.V3 else read_v5_json(body)
    return render(commit, now)


def retry_deliveries(
    store: QueueStore, routing: Routing, delivery_ids: Iterable[int], *, now: float
) -> list[RetryReport]:
    """Retry each delivery with today's settings; one report each, in the order given."""
    reports = []
    for delivery_id in delivery_ids:
        delivery = store.get(delivery_id)
        if delivery is None:
            reports.append(
                RetryReport(delivery_id, "", RetryOutcome.NOT_RETRYABLE, "no such delivery")
            )
            continue
        reports.append(_retry_one(store, routing, delivery, now))
    return reports


def _retry_one(store: QueueStore, routing: Routing, delivery: Delivery, now: float) -> RetryReport:
    if delivery.state in (State.DELIVERED, State.LEASED):
        why = (
            "it was delivered; retrying it would post the commit twice"
            if delivery.state is State.DELIVERED
            else "it is being delivered now"
        )
        return RetryReport(delivery.id, delivery.commit_id, RetryOutcome.NOT_RETRYABLE, why)
    try:
        plan = plan_retry(delivery, routing)
    except HookrelayError as exc:
        # A body that cannot be read back for another API version: say so, retry nothing.
        return RetryReport(delivery.id, delivery.commit_id, RetryOutcome.NOT_RETRYABLE, str(exc))
    if plan.redirect is None:
        outcome = (
            RetryOutcome.RETRIED
            if store.retry(delivery.id, now=now)
            else RetryOutcome.NOT_RETRYABLE
        )
    else:
        outcome = store.retry_redirected(delivery.id, plan.redirect, now=now)
    explanation = plan.explanation
    if outcome is RetryOutcome.NOT_RETRYABLE:
        explanation = "it changed state meanwhile"
    elif outcome is RetryOutcome.ALREADY_QUEUED:
        explanation = f"it would go {plan.explanation}"
    return RetryReport(delivery.id, delivery.commit_id, outcome, explanation)
