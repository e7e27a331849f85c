"""The Tracker client posts through its transport's pool: the same request httpx would send."""

from __future__ import annotations

import httpx

from hookrelay.core.source_commit import SourceCommit
from hookrelay.core.tracker_api import Delivered, TrackerTarget
from hookrelay.tracker.client import TrackerClient, TrackerHttp, make_http_client
from hookrelay.tracker.deadline import DeadlineTransport
from tests.support.recorder import Recorder, running_recorder

TOKEN = "0123456789abcdef0123456789abcdef"
COMMIT = SourceCommit.of(commit_id="4f2a9c1", message="[#1] m", author="Scotty", url="")


def _posted(recorder: Recorder, http: httpx.Client) -> tuple[str, dict[str, str], bytes]:
    target = TrackerTarget.parse(f"{recorder.url}/services/v5")
    assert TrackerClient(http, target, TOKEN).post(COMMIT) == Delivered(200)
    received = recorder.received[-1]
    return received.path, {k.lower(): v for k, v in received.headers.items()}, received.body


def test_direct_post_sends_what_httpx_sends() -> None:
    """Path, headers (names and values) and body are byte for byte those of httpx's own send."""
    with running_recorder() as recorder, make_http_client() as http:
        direct = _posted(recorder, http)
        http.direct = lambda _url: None  # type: ignore[method-assign]
        through_httpx = _posted(recorder, http)
    assert direct == through_httpx
    assert direct[1]["x-trackertoken"] == TOKEN
    assert direct[1]["user-agent"] == "hookrelay"


def test_a_url_mounted_on_another_transport_is_posted_through_httpx() -> None:
    """Where httpx would hand a URL to another transport (a proxy's mount), so does the client."""
    url = httpx.URL("http://tracker.example/services/v5/source_commits")
    with make_http_client() as http:
        assert isinstance(http.direct(url), DeadlineTransport)
    mounted = httpx.HTTPTransport()
    with TrackerHttp(
        transport=DeadlineTransport(limits=httpx.Limits()),
        mounts={"http://tracker.example": mounted},
    ) as http:
        assert http.direct(url) is None
        assert isinstance(http.direct(httpx.URL("http://other.example/")), DeadlineTransport)
