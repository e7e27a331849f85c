"""Prometheus metrics of one hookrelay process, in a registry of its own (tests make many)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["RelayMetrics"]


def _registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


@dataclass
class RelayMetrics:
    """The counters, gauges and histograms ``GET /metrics`` exposes."""

    registry: CollectorRegistry = field(default_factory=_registry)

    def __post_init__(self) -> None:
        r = self.registry
        self.received = Counter(
            "hookrelay_webhooks_received",
            "Webhook and ingest requests received",
            ["endpoint"],
            registry=r,
        )
        self.queued = Counter("hookrelay_commits_queued", "Commits queued for delivery", registry=r)
        self.skipped = Counter(
            "hookrelay_commits_skipped", "Commits not queued", ["reason"], registry=r
        )
        self.delivered = Counter(
            "hookrelay_commits_delivered", "Commits Tracker accepted", registry=r
        )
        self.retried = Counter(
            "hookrelay_delivery_retries", "Deliveries that failed and will be retried", registry=r
        )
        self.dead = Counter(
            "hookrelay_commits_dead", "Commits moved to the dead-letter list", registry=r
        )
        self.queue_depth = Gauge(
            "hookrelay_queue_depth", "Queued commits by state", ["state"], registry=r
        )
        self.inbox_pushes = Gauge(
            "hookrelay_inbox_pushes",
            "Pushes kept in the inbox under load, not yet expanded into queued commits",
            registry=r,
        )
        self.oldest_pending_age = Gauge(
            "hookrelay_oldest_pending_age_seconds",
            "Age of the oldest commit not yet delivered or dead",
            registry=r,
        )
        self.delivery_latency = Histogram(
            "hookrelay_delivery_latency_seconds",
            "Time from queueing a commit to Tracker accepting it",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86400),
            registry=r,
        )
