"""How the worker logs what it recorded: failures each time, deliveries as a periodic count."""

from __future__ import annotations

import logging

import pytest

from hookrelay.delivery.outcomes import DeliveredSummary
from tests.delivery.conftest import Clock

LOG = logging.getLogger("hookrelay.delivery.test")


def test_deliveries_are_counted_in_one_line_every_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Deliveries within the interval make no line; the first after it logs them all, and
    ``flush`` logs what is left, once."""
    clock = Clock()
    summary = DeliveredSummary(LOG, clock, every=10.0)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        for _ in range(3):
            summary.delivered()
            clock.advance(3)
        assert caplog.messages == []
        clock.advance(1)
        summary.delivered()
        clock.advance(2)
        summary.delivered()
        summary.flush()
        summary.flush()
    assert caplog.messages == [
        "delivered 4 commits in the last 10 s",
        "delivered 1 commit in the last 2 s",
    ]
    assert [record.count for record in caplog.records] == [4, 1]
