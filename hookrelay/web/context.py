"""What the receiver's routes share: settings, routing table, store, metrics, clock, body
budget, and the inbox that pushes wait in while the receiver is busy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hookrelay.core.routing import Plan, Routing, SkipReason
from hookrelay.inbox import Inbox
from hookrelay.metrics import RelayMetrics
from hookrelay.queue.group_commit import GroupCommit
from hookrelay.queue.store import EnqueueResult, QueueStore
from hookrelay.settings import Settings
from hookrelay.web.body import BodyBudget, OffLoop

__all__ = ["RelayContext"]


@dataclass(frozen=True, slots=True)
class RelayContext:
    """Built once by ``create_app`` and handed to routes through ``hookrelay.web.deps``."""

    settings: Settings
    routing: Routing
    store: QueueStore
    metrics: RelayMetrics
    clock: Callable[[], float]
    body_budget: BodyBudget
    off_loop: OffLoop
    writer: GroupCommit
    inbox: Inbox

    def queue(self, plan: Plan) -> EnqueueResult:
        """Queue ``plan``'s deliveries (durable on return) and count what was queued and skipped.

        Blocking (the stores are synchronous): routes call it from a worker thread. A big push
        comes as several plans (``plan_push_in_pieces``), so the pushes arriving meanwhile are
        not held behind it; a push whose later piece fails is answered 503 and its forge's
        redelivery finds the earlier pieces already queued (the dedupe key), so nothing is lost
        or queued twice.
        """
        result = EnqueueResult(queued=0, duplicates=0)
        if plan.deliveries:
            result = self.writer.enqueue(plan.deliveries, now=self.clock())
        self.metrics.queued.inc(result.queued)
        for reason, count in plan.skipped.items():
            self.metrics.skipped.labels(reason=reason.value).inc(count)
        if result.duplicates:
            self.metrics.skipped.labels(reason=SkipReason.DUPLICATE.value).inc(result.duplicates)
        return result
