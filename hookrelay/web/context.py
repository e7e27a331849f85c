"""What the receiver's routes share: settings, routing table, store, metrics and clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hookrelay.metrics import RelayMetrics
from hookrelay.queue.store import QueueStore
from hookrelay.relay import Routing
from hookrelay.settings import Settings

__all__ = ["RelayContext"]


@dataclass(frozen=True, slots=True)
class RelayContext:
    """Built once by ``create_app`` and handed to routes through ``hookrelay.web.deps``."""

    settings: Settings
    routing: Routing
    store: QueueStore
    metrics: RelayMetrics
    clock: Callable[[], float]
