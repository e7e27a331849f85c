"""What the worker does once the store has an attempt's result: one row per state, as a table.

``decide`` (``hookrelay.core.lifecycle``) says where an answer sends a commit; this table says
how each of those is logged and counted. One log line per event, with the token's fingerprint,
never the token. A failure is a warning or an error each time; a delivery is a debug line, and
``DeliveredSummary`` says at info level how many were delivered every little while: a line per
commit cost the worker a tenth of its time at a thousand commits a second.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from hookrelay.core.lifecycle import Decision, State
from hookrelay.core.tracker_api import Delivered, Outcome
from hookrelay.metrics import RelayMetrics
from hookrelay.queue.store import Delivery

__all__ = ["DeliveredSummary", "fields", "report"]


@dataclass(frozen=True, slots=True)
class _Row:
    level: int
    message: str  # %-style, with the names ``report`` gives
    counter: str  # the RelayMetrics counter to increment


_TABLE: dict[State, _Row] = {
    State.DELIVERED: _Row(
        logging.DEBUG,
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
        "delivery %(id)d of commit %(commit)s to %(target)s is dead (attempt %(attempt)d): "
        "%(error)s",
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


class DeliveredSummary:
    """Counts deliveries and logs, at most every ``every`` seconds, how many since the last
    line (``flush`` logs what is left, when the worker stops)."""

    def __init__(
        self, log: logging.Logger, clock: Callable[[], float], every: float = 10.0
    ) -> None:
        self._log = log
        self._clock = clock
        self._every = every
        self._lock = threading.Lock()
        self._count = 0
        self._since = clock()

    def delivered(self) -> None:
        """Count one delivery; log the count if the last line is ``every`` seconds old."""
        with self._lock:
            self._count += 1
            if self._clock() - self._since < self._every:
                return
        self.flush()

    def flush(self) -> None:
        """Log the deliveries counted since the last line, if any."""
        with self._lock:
            count, since, self._count, self._since = self._count, self._since, 0, self._clock()
        if count:
            self._log.info(
                "delivered %d commit%s in the last %.0f s",
                count,
                "" if count == 1 else "s",
                self._since - since,
                extra={"event": "delivered_summary", "count": count},
            )
