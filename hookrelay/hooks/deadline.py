"""A whole-request deadline for the hook's posts: connect to last byte, however Tracker trickles.

The rule is the Tracker client's own (``hookrelay.tracker.deadline``): every network operation
of a post gets at most the time left before its deadline, so a Tracker that sends its status
line and headers a byte at a time cannot hold a push (it held one 90 s before). The hook gives
each post the time its foreground budget has left, nested inside the client's ``answer_within``:
a post past it is a ``RetryLater``, and the commit stays spooled.
"""

from __future__ import annotations

import httpx

from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import Outcome
from hookrelay.tracker.client import TrackerClient
from hookrelay.tracker.deadline import within as deadline_within

__all__ = ["DeadlinePoster", "deadline_timeout"]


def deadline_timeout(seconds: float, *, connect: float = 3.0) -> httpx.Timeout:
    """httpx's per-wait timeouts for posts that may take ``seconds`` in all, connecting within
    ``connect`` (the hook's foreground gives a post one second at least)."""
    return httpx.Timeout(seconds, connect=min(connect, seconds))


class DeadlinePoster:
    """Posts commits with ``client``, each within a deadline of its own."""

    def __init__(self, client: TrackerClient) -> None:
        """Post with ``client`` (one made by ``make_http_client``, whose transport keeps the
        deadline)."""
        self._client = client

    def post(self, commit: SourceCommit, *, within: float) -> Outcome:
        """Post ``commit``; a post not done ``within`` seconds is ``RetryLater``."""
        with deadline_within(within):
            return self._client.post(commit)
