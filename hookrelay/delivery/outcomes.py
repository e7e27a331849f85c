"""What the worker does once the store has an attempt's result: one row per state, as a table.

``decide`` (``hookrelay.core.lifecycle``) says where an answer sends a commit; this table says
how each of those is logged and counted. One log line per event, with the token's fingerprint,
never the token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hookrelay.core.lifecycle import Decision, State
from hookrelay.core.tracker_api import Delivered, Outcome
from hookrelay.metrics import RelayMetrics
from hookrelay.queue.store import Delivery

__all__ = ["fields", "report"]


@dataclass(frozen=True, slots=True)
class _Row:
    level: int
    message: str  # %-style, with the names ``report`` gives
    counter: str  # the RelayMetrics counter to increment


_TABLE: dict[State, _Row] = {
    State.DELIVERED: _Row(
        logging.INFO,
        "delivered commit %(commit)s to %(target)s (delivery %(id)d, attempt %(attempt)d): "
        "HTTP %(status)d",
        "delivered",
    ),
    State.WAITING: _Row(
        logging.WARNING,
        "delivery %(id)d of commit %(commit)s to %(target)s failed (attempt %(attempt)d), "
        "next in %(wait).0f s: %(error)s",
        "retried",
    ),
    State.DEAD: _Row(
        logging.ERROR,
        "delivery %(id)d of commit %(commit)s to %(target)s is dead after %(attempt)d "
        "attempts: %(error)s",
        "dead",
    ),
}


def report(
    log: logging.Logger,
    metrics: RelayMetrics | None,
    delivery: Delivery,
    *,
    outcome: Outcome,
    decision: Decision,
    now: float,
) -> None:
    """Log and count a recorded ``decision`` about ``delivery`` as the table says."""
    row = _TABLE[decision.state]
    if log.isEnabledFor(row.level):
        values = {
            "id": delivery.id,
            "commit": delivery.commit_id,
            "target": delivery.target_url,
            "attempt": delivery.attempts,
            "status": outcome.status if isinstance(outcome, Delivered) else 0,
            "wait": (decision.next_attempt_at or now) - now,
            "error": decision.error,
        }
        log.log(row.level, row.message, values, extra=fields(delivery, decision.state.value))
    if metrics is not None:
        getattr(metrics, row.counter).inc()
        if decision.state is State.DELIVERED:
            metrics.delivery_latency.observe(max(0.0, now - delivery.created_at))


def fields(delivery: Delivery, event: str) -> dict[str, object]:
    """The structured fields of a log line about ``delivery`` (for ``--log-format json``)."""
    return {
        "event": event,
        "delivery_id": delivery.id,
        "commit_id": delivery.commit_id,
        "target": delivery.target_url,
        "attempt": delivery.attempts,
        "token_fingerprint": delivery.token_fingerprint,
    }
