"""The delivery worker: lease due commits, post each to its Tracker target, record the outcome.

``run(stop)`` keeps up to ``concurrency`` posts in flight, leasing more as slots free up, and
polls the queue every ``poll_interval`` seconds when it is idle. When ``stop`` is set (SIGTERM
in ``hookrelay serve``/``worker``) it leases nothing more and waits for the posts in flight,
each bounded by the HTTP client's timeout; a commit leased but not yet posted is released, so
another worker takes it at once instead of after its lease expires. A worker that dies without
stopping leaves leases that expire, and the commits are delivered again: ``lease_seconds``
must therefore exceed the HTTP timeout, or a slow post could be taken over and posted twice.

What each answer does is ``hookrelay.core.lifecycle.decide``; this module only moves data
between the store, the Tracker client and the log. One log line per event, with the token's
fingerprint, never the token.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime

import httpx

from hookrelay.core.backoff import RetryPolicy
from hookrelay.core.lifecycle import Decision, State, decide
from hookrelay.core.tracker_api import Delivered, Outcome, Refused, TrackerTarget
from hookrelay.exceptions import ConfigError, StoreError
from hookrelay.metrics import RelayMetrics
from hookrelay.queue.store import Delivery, QueueStore
from hookrelay.tracker.client import TrackerClient

__all__ = ["DEFAULT_KEEP_FINISHED", "DeliveryWorker"]

DEFAULT_KEEP_FINISHED = 30 * 86400.0
"""How long delivered and dead commits stay listed (and deduplicated) before ``prune``."""

_LOG = logging.getLogger("hookrelay.delivery")


class DeliveryWorker:
    """Delivers queued commits to Tracker, several at once, following the lifecycle table."""

    def __init__(
        self,
        store: QueueStore,
        http: httpx.Client,
        *,
        policy: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, so sharing the default is safe
        concurrency: int = 4,
        lease_seconds: float = 60.0,
        poll_interval: float = 1.0,
        keep_finished: float = DEFAULT_KEEP_FINISHED,
        prune_every: float = 3600.0,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        metrics: RelayMetrics | None = None,
        logger: logging.Logger = _LOG,
    ) -> None:
        """Deliver from ``store`` with ``http`` (which the caller owns and closes).

        ``clock`` gives seconds since the epoch and ``rand`` a float in [0, 1); tests pass
        fakes of both, so back-off and ``Retry-After`` are checked without waiting.
        """
        if concurrency < 1 or lease_seconds <= 0 or poll_interval <= 0:
            raise ConfigError(
                "the worker needs concurrency >= 1, lease_seconds > 0 and poll_interval > 0"
            )
        self._store = store
        self._http = http
        self._policy = policy
        self._concurrency = concurrency
        self._lease_seconds = lease_seconds
        self._poll_interval = poll_interval
        self._keep_finished = keep_finished
        self._prune_every = prune_every
        self._clock = clock
        self._rand = rand
        self._metrics = metrics
        self._log = logger
        self._next_prune: float | None = None

    # --- driving -------------------------------------------------------------------------------

    def run_once(self, stop: threading.Event | None = None, *, limit: int | None = None) -> int:
        """Lease up to ``limit`` (default: ``concurrency``) due commits, deliver them, and
        return how many were leased. Commits not yet posted when ``stop`` is set are released.

        Raises ``StoreError`` if the queue cannot be leased from.
        """
        batch = self._lease(self._concurrency if limit is None else limit)
        if len(batch) <= 1 or self._concurrency == 1:
            for delivery in batch:
                self._deliver(delivery, stop)
            return len(batch)
        with ThreadPoolExecutor(
            max_workers=min(self._concurrency, len(batch)), thread_name_prefix="hookrelay-delivery"
        ) as pool:
            for future in [pool.submit(self._deliver, d, stop) for d in batch]:
                future.result()
        return len(batch)

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set, then finish the posts in flight and return."""
        self._log.info(
            "delivery worker started: %d at once, lease %.0f s",
            self._concurrency,
            self._lease_seconds,
            extra={"event": "worker_started"},
        )
        in_flight: set[Future[None]] = set()
        with ThreadPoolExecutor(
            max_workers=self._concurrency, thread_name_prefix="hookrelay-delivery"
        ) as pool:
            while not stop.is_set():
                self._prune_now_and_then()
                free = self._concurrency - len(in_flight)
                try:
                    batch = self._lease(free)
                except StoreError as exc:
                    self._log.warning(
                        "queue unavailable, trying again in %.0f s: %s",
                        self._poll_interval,
                        exc,
                        extra={"event": "store_unavailable"},
                    )
                    batch = []
                in_flight |= {pool.submit(self._deliver, d, stop) for d in batch}
                if in_flight:
                    _, in_flight = wait(
                        in_flight, timeout=self._poll_interval, return_when=FIRST_COMPLETED
                    )
                else:
                    stop.wait(self._poll_interval)
            # Leaving the pool waits for the posts in flight; none is started after this point.
        self._log.info("delivery worker stopped", extra={"event": "worker_stopped"})

    def prune(self) -> int:
        """Delete delivered and dead commits finished more than ``keep_finished`` ago."""
        pruned = self._store.prune(finished_before=self._clock() - self._keep_finished)
        if pruned:
            self._log.info(
                "pruned %d finished deliveries", pruned, extra={"event": "pruned", "count": pruned}
            )
        return pruned

    # --- one delivery --------------------------------------------------------------------------

    def _lease(self, limit: int) -> list[Delivery]:
        if limit <= 0:
            return []
        return self._store.lease(now=self._clock(), limit=limit, lease_seconds=self._lease_seconds)

    def _prune_now_and_then(self) -> None:
        now = self._clock()
        if self._next_prune is not None and now < self._next_prune:
            return
        self._next_prune = now + self._prune_every
        try:
            self.prune()
        except StoreError as exc:
            self._log.warning("could not prune: %s", exc, extra={"event": "prune_failed"})

    def _deliver(self, delivery: Delivery, stop: threading.Event | None) -> None:
        """Post one leased commit and record the outcome; never raises."""
        try:
            if stop is not None and stop.is_set():
                self._release(delivery)
                return
            outcome = self._post(delivery)
            now = self._clock()
            decision = decide(
                outcome,
                attempts=delivery.attempts,
                first_attempt_at=(
                    now if delivery.first_attempt_at is None else delivery.first_attempt_at
                ),
                now=now,
                policy=self._policy,
                rand=self._rand,
            )
            self._record(delivery, outcome, decision, now)
        except StoreError as exc:
            self._log.warning(
                "could not record delivery %d; it is delivered again when its lease expires: %s",
                delivery.id,
                exc,
                extra=_fields(delivery, "store_unavailable"),
            )
        except Exception:  # noqa: BLE001 - one bad delivery must not stop the others
            # The lease expires and the commit is tried again; the traceback says why.
            self._log.exception(
                "delivery %d failed unexpectedly", delivery.id, extra=_fields(delivery, "bug")
            )

    def _post(self, delivery: Delivery) -> Outcome:
        try:
            target = TrackerTarget.parse(delivery.target_url)
            client = TrackerClient(
                self._http,
                target,
                delivery.token,
                clock=lambda: datetime.fromtimestamp(self._clock(), UTC),
                # With the client's read timeout (lease / 3), a post ends inside its lease.
                answer_within=self._lease_seconds / 3,
            )
        except ConfigError as exc:
            # A target or token that can never work: no retry can help.
            return Refused(0, str(exc))
        return client.post_rendered(delivery.body)

    def _record(self, delivery: Delivery, outcome: Outcome, decision: Decision, now: float) -> None:
        store, metrics = self._store, self._metrics
        fields = _fields(delivery, decision.state.value)
        if decision.state is State.DELIVERED:
            if not store.mark_delivered(delivery, now=now):
                self._lease_lost(delivery)
                return
            status = outcome.status if isinstance(outcome, Delivered) else 0
            self._log.info(
                "delivered commit %s to %s (delivery %d, attempt %d): HTTP %d",
                delivery.commit_id,
                delivery.target_url,
                delivery.id,
                delivery.attempts,
                status,
                extra=fields,
            )
            if metrics is not None:
                metrics.delivered.inc()
                metrics.delivery_latency.observe(max(0.0, now - delivery.created_at))
        elif decision.state is State.WAITING:
            next_attempt_at = now if decision.next_attempt_at is None else decision.next_attempt_at
            if not store.mark_waiting(
                delivery, now=now, next_attempt_at=next_attempt_at, error=decision.error
            ):
                self._lease_lost(delivery)
                return
            self._log.warning(
                "delivery %d of commit %s to %s failed (attempt %d), next in %.0f s: %s",
                delivery.id,
                delivery.commit_id,
                delivery.target_url,
                delivery.attempts,
                next_attempt_at - now,
                decision.error,
                extra=fields,
            )
            if metrics is not None:
                metrics.retried.inc()
        else:
            if not store.mark_dead(delivery, now=now, error=decision.error):
                self._lease_lost(delivery)
                return
            self._log.error(
                "delivery %d of commit %s to %s is dead after %d attempts: %s",
                delivery.id,
                delivery.commit_id,
                delivery.target_url,
                delivery.attempts,
                decision.error,
                extra=fields,
            )
            if metrics is not None:
                metrics.dead.inc()

    def _release(self, delivery: Delivery) -> None:
        if self._store.release(delivery, now=self._clock()):
            self._log.info(
                "released delivery %d of commit %s: stopping",
                delivery.id,
                delivery.commit_id,
                extra=_fields(delivery, "released"),
            )

    def _lease_lost(self, delivery: Delivery) -> None:
        self._log.warning(
            "lost the lease on delivery %d of commit %s (attempt %d): another worker has it",
            delivery.id,
            delivery.commit_id,
            delivery.attempts,
            extra=_fields(delivery, "lease_lost"),
        )


def _fields(delivery: Delivery, event: str) -> dict[str, object]:
    """The structured fields of a log line about ``delivery`` (for ``--log-format json``)."""
    return {
        "event": event,
        "delivery_id": delivery.id,
        "commit_id": delivery.commit_id,
        "target": delivery.target_url,
        "attempt": delivery.attempts,
        "token_fingerprint": delivery.token_fingerprint,
    }
