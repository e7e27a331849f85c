"""The delivery worker: lease due commits, post each to its Tracker target, record the outcome.

``run(stop)`` runs ``concurrency`` posting threads sharing one batch of leased commits
(``batch``, 32 by default, or one for each thread if there are more threads, so one lease
serves many posts): a thread takes the next commit, posts it and records the outcome as soon
as it is known (a 2xx on its status line); the thread that finds the batch empty leases the
next one for all, and when nothing is due a thread looks again every ``poll_interval``
seconds. Threads whose outcomes are ready together record them in one write
(``recording.py``). A thread records its outcome before it posts the next commit, so a crash
posts again at most the posts in flight. Each post ends within ``lease_seconds / 3`` (the
Tracker client's deadline), and a leased commit is posted only while at least twice that is
left of its lease: a post always ends, and is recorded, before another worker may take the
commit over.

When ``stop`` is set (SIGTERM in ``hookrelay serve``/``worker``) the worker leases nothing more
and finishes the posts in flight; a commit leased but not yet posted is released, so another
worker takes it at once instead of after its lease expires. A worker that dies leaves leases
that expire, and those commits are delivered again.

What each answer does is ``hookrelay.core.lifecycle.decide``; how each decision is logged and
counted is the table in ``outcomes.py``. One log line per event, with the token's fingerprint,
never the token.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from hookrelay.core.backoff import RetryPolicy
from hookrelay.core.lifecycle import State, decide
from hookrelay.core.tracker_api import Outcome, Refused, TrackerTarget
from hookrelay.delivery.outcomes import DeliveredSummary, fields, report
from hookrelay.delivery.recording import GroupRecorder
from hookrelay.exceptions import ConfigError, StoreError
from hookrelay.metrics import RelayMetrics
from hookrelay.queue.store import AttemptResult, Delivery, QueueStore
from hookrelay.tracker.client import TrackerClient

__all__ = ["DEFAULT_BATCH", "DEFAULT_KEEP_FINISHED", "DeliveryWorker"]

DEFAULT_KEEP_FINISHED = 30 * 86400.0
"""How long delivered and dead commits stay listed (and deduplicated) before ``prune``."""

DEFAULT_BATCH = 32
"""How many due commits the posting threads lease at a time, all together (``run_once``, and
``drain``'s threads, each lease their share of it)."""

_LOG = logging.getLogger("hookrelay.delivery")
_CLIENTS_KEPT = 256  # Tracker clients kept per (target, token); the cache is cleared past it


class DeliveryWorker:
    """Delivers queued commits to Tracker, several at once, following the lifecycle table."""

    def __init__(
        self,
        store: QueueStore,
        http: httpx.Client,
        *,
        policy: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, so sharing the default is safe
        concurrency: int = 4,
        batch: int = DEFAULT_BATCH,
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
        if concurrency < 1 or batch < 1 or lease_seconds <= 0 or poll_interval <= 0:
            raise ConfigError(
                "the worker needs concurrency >= 1, batch >= 1, lease_seconds > 0 and "
                "poll_interval > 0"
            )
        self._store = store
        self._http = http
        self._policy = policy
        self._concurrency = concurrency
        self._batch = batch
        self._share = max(1, batch // concurrency)  # what one run_once leases at most
        self._lease_seconds = lease_seconds
        # With the client's deadline, a post ends well inside its lease.
        self._answer_within = lease_seconds / 3
        self._poll_interval = poll_interval
        self._keep_finished = keep_finished
        self._prune_every = prune_every
        self._clock = clock
        self._rand = rand
        self._metrics = metrics
        self._log = logger
        self._next_prune: float | None = None
        self._clients: dict[tuple[str, str], TrackerClient | Refused] = {}
        self._clients_lock = threading.Lock()
        self._prune_lock = threading.Lock()
        self._summary = DeliveredSummary(logger, clock)
        self._recorder = GroupRecorder(store)

    # --- driving -------------------------------------------------------------------------------

    def run_once(self, stop: threading.Event | None = None, *, limit: int | None = None) -> int:
        """Lease up to ``limit`` (default: one thread's share of the batch) due commits, post
        them one after another, record each outcome, and return how many were leased (what
        ``drain``'s threads repeat; ``run``'s share one batch instead). Commits not yet
        posted when ``stop`` is set are released.

        Raises ``StoreError`` if the queue cannot be leased from.
        """
        wanted = self._share if limit is None else limit
        if wanted <= 0:
            return 0
        batch = self._store.lease(
            now=self._clock(), limit=wanted, lease_seconds=self._lease_seconds
        )
        for delivery in batch:
            self._deliver(delivery, stop)
        return len(batch)

    def run(self, stop: threading.Event) -> None:
        """Deliver with ``concurrency`` threads until ``stop`` is set, then finish the posts in
        flight and return.

        A thread that fails unexpectedly stops the others (after their posts in flight) and
        its error is raised here, so ``serve`` stops rather than receive without delivering.
        """
        self._log.info(
            "delivery worker started: %d at once, lease %.0f s",
            self._concurrency,
            self._lease_seconds,
            extra={"event": "worker_started"},
        )
        halt = threading.Event()
        failures: list[BaseException] = []
        leases = _SharedLeases(self._lease_batch)

        def deliver_until_halted(_number: int) -> None:
            try:
                self._deliver_until(stop, halt, leases)
            except BaseException as exc:  # noqa: BLE001 - raised again by run, below
                failures.append(exc)
                halt.set()

        self._in_threads(deliver_until_halted)
        for delivery in leases.take_all():
            try:
                self._release(delivery, "stopping")
            except StoreError as exc:
                self._log.warning(
                    "could not release delivery %d; it is due again when its lease expires: %s",
                    delivery.id,
                    exc,
                    extra=fields(delivery, "store_unavailable"),
                )
        if failures:
            raise failures[0]
        self._log.info("delivery worker stopped", extra={"event": "worker_stopped"})

    def drain(self) -> int:
        """Deliver what is due now with ``concurrency`` threads, each repeating ``run_once``
        until it finds nothing due; return how many commits were leased (for benches and
        one-off runs; commits waiting for a later retry are left for ``run``)."""
        leased = [0] * self._concurrency

        def turns(number: int) -> None:
            while taken := self.run_once():
                leased[number] += taken

        self._in_threads(turns)
        return sum(leased)

    def _in_threads(self, work: Callable[[int], None]) -> None:
        """Run ``work(number)`` in ``concurrency`` delivery threads, wait for all of them, and
        write the deliveries' summary line."""
        threads = [
            threading.Thread(target=work, args=(n,), name=f"hookrelay-delivery-{n}")
            for n in range(self._concurrency)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self._summary.flush()

    def prune(self) -> int:
        """Delete delivered and dead commits finished more than ``keep_finished`` ago."""
        pruned = self._store.prune(finished_before=self._clock() - self._keep_finished)
        if pruned:
            self._log.info(
                "pruned %d finished deliveries", pruned, extra={"event": "pruned", "count": pruned}
            )
        return pruned

    def _deliver_until(
        self, stop: threading.Event, halt: threading.Event, leases: _SharedLeases
    ) -> None:
        """One posting thread: post the commits ``leases`` hands it until ``stop``, looking at
        an idle queue every poll interval."""
        while not (stop.is_set() or halt.is_set()):
            self._prune_now_and_then()
            try:
                delivery = leases.take()
            except StoreError as exc:
                self._log.warning(
                    "queue unavailable, trying again in %.0f s: %s",
                    self._poll_interval,
                    exc,
                    extra={"event": "store_unavailable"},
                )
                delivery = None
            if delivery is None:
                stop.wait(self._poll_interval)
            else:
                self._deliver(delivery, stop)

    def _lease_batch(self) -> list[Delivery]:
        """Lease a batch for all the posting threads: ``batch`` commits, or one for each."""
        return self._store.lease(
            now=self._clock(),
            limit=max(self._batch, self._concurrency),
            lease_seconds=self._lease_seconds,
        )

    def _prune_now_and_then(self) -> None:
        with self._prune_lock:
            now = self._clock()
            if self._next_prune is not None and now < self._next_prune:
                return
            self._next_prune = now + self._prune_every
        try:
            self.prune()
        except StoreError as exc:
            self._log.warning("could not prune: %s", exc, extra={"event": "prune_failed"})

    # --- one delivery --------------------------------------------------------------------------

    def _deliver(self, delivery: Delivery, stop: threading.Event | None) -> None:
        """Post one leased commit and record the outcome; never raises."""
        try:
            if stop is not None and stop.is_set():
                self._release(delivery, "stopping")
                return
            lease_left = (delivery.lease_until or 0.0) - self._clock()
            if lease_left < 2 * self._answer_within:
                # Waited too long in the batch: posting now could outlive the lease.
                self._release(delivery, "too little of its lease left")
                return
            client = self._client(delivery)
            if isinstance(client, Refused):
                self._finish(delivery, client)
                return
            with client.answer_to(delivery.body) as outcome:
                self._finish(delivery, outcome)
        except StoreError as exc:
            self._log.warning(
                "could not record delivery %d; it is delivered again when its lease expires: %s",
                delivery.id,
                exc,
                extra=fields(delivery, "store_unavailable"),
            )
        except Exception:  # noqa: BLE001 - one bad delivery must not stop the others
            # The lease expires and the commit is tried again; the traceback says why.
            self._log.exception(
                "delivery %d failed unexpectedly", delivery.id, extra=fields(delivery, "bug")
            )

    def _client(self, delivery: Delivery) -> TrackerClient | Refused:
        """The Tracker client for a delivery's target and token (kept for the next commits), or
        ``Refused`` if no request could ever carry them."""
        key = (delivery.target_url, delivery.token)
        with self._clients_lock:
            client = self._clients.get(key)
        if client is not None:
            return client
        try:
            client = TrackerClient(
                self._http,
                TrackerTarget.parse(delivery.target_url),
                delivery.token,
                clock=lambda: datetime.fromtimestamp(self._clock(), UTC),
                answer_within=self._answer_within,
            )
        except ConfigError as exc:
            client = Refused(0, str(exc))  # a target or token that can never work
        with self._clients_lock:
            if len(self._clients) >= _CLIENTS_KEPT:
                self._clients.clear()
            self._clients[key] = client
        return client

    def _finish(self, delivery: Delivery, outcome: Outcome) -> None:
        """Decide what ``outcome`` means, record it, then log and count it (``outcomes.py``)."""
        now = self._clock()
        first_attempt_at = delivery.first_attempt_at
        decision = decide(
            outcome,
            attempts=delivery.attempts,
            first_attempt_at=now if first_attempt_at is None else first_attempt_at,
            now=now,
            policy=self._policy,
            rand=self._rand,
        )
        result = AttemptResult(delivery, decision.state, decision.next_attempt_at, decision.error)
        if not self._recorder.record(result, now=now):
            self._log.warning(
                "lost the lease on delivery %d of commit %s (attempt %d): another worker has it",
                delivery.id,
                delivery.commit_id,
                delivery.attempts,
                extra=fields(delivery, "lease_lost"),
            )
            return
        report(self._log, self._metrics, delivery, outcome=outcome, decision=decision, now=now)
        if decision.state is State.DELIVERED:
            self._summary.delivered()

    def _release(self, delivery: Delivery, why: str) -> None:
        if self._store.release(delivery, now=self._clock()):
            self._log.info(
                "released delivery %d of commit %s: %s",
                delivery.id,
                delivery.commit_id,
                why,
                extra=fields(delivery, "released"),
            )


class _SharedLeases:
    """The commits leased for all of ``run``'s posting threads, in lease order. A thread takes
    the next one; the thread that finds none left leases the next batch for all of them, and
    the others wait for that lease rather than make their own, so one lease serves a batch
    however many threads post it, and a few due commits still spread over the threads."""

    def __init__(self, lease: Callable[[], list[Delivery]]) -> None:
        self._lease = lease
        self._lock = threading.Lock()
        self._leased: deque[Delivery] = deque()

    def take(self) -> Delivery | None:
        """The next leased commit, leasing a batch if none is left; None if none is due.

        Raises ``StoreError`` if the queue cannot be leased from."""
        with self._lock:
            if not self._leased:
                self._leased.extend(self._lease())
            return self._leased.popleft() if self._leased else None

    def take_all(self) -> list[Delivery]:
        """Every commit leased and not yet taken (to release them when the threads stop)."""
        with self._lock:
            left = list(self._leased)
            self._leased.clear()
        return left
