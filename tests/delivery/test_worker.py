"""The delivery worker against a real HTTP server on loopback, with a hand-moved clock."""

from __future__ import annotations

import email.utils
import logging
import socket
import threading
import time

import pytest

from hookrelay.core.backoff import RetryPolicy
from hookrelay.core.tracker_api import token_fingerprint
from hookrelay.delivery import DeliveryWorker
from hookrelay.queue import Delivery, NewDelivery, QueueStore, State
from tests.delivery.conftest import TOKEN, Relay, closed_port, queue_commit, sample
from tests.support.recorder import Received, Reply
from tests.support.waiting import wait_until
from tests.tracker.rawserver import running_raw_server

POLICY = RetryPolicy(first=10.0, factor=2.0, cap=3600.0, jitter=0.5, give_up_after=3600.0)


def make_worker(relay: Relay, **options: object) -> DeliveryWorker:
    """A worker with the test's clock and metrics, no jitter and a one-hour give-up horizon."""
    settings: dict[str, object] = {
        "policy": POLICY,
        "clock": relay.clock,
        "rand": lambda: 0.0,
        "metrics": relay.metrics,
    }
    settings.update(options)
    return DeliveryWorker(relay.store, relay.http, **settings)  # type: ignore[arg-type]


def only(store: QueueStore) -> Delivery:
    """The one delivery in the queue."""
    (delivery,) = store.list()
    return delivery


@pytest.mark.parametrize(
    ("version", "content_type"),
    [("v3", "application/xml"), ("v5", "application/json")],
    ids=["v3", "v5"],
)
def test_delivers_a_queued_commit(relay: Relay, version: str, content_type: str) -> None:
    """A queued commit is posted once, as queued, with the token header, and marked delivered."""
    item = relay.queue(version=version)
    relay.clock.advance(2.5)
    assert make_worker(relay).run_once() == 1
    (request,) = relay.tracker.received
    assert (request.method, request.path) == ("POST", f"/services/{version}/source_commits")
    assert request.headers["X-TrackerToken"] == TOKEN
    assert request.headers["Content-Type"] == content_type
    assert request.body == item.body
    delivered = only(relay.store)
    assert (delivered.state, delivered.attempts, delivered.finished_at) == (
        State.DELIVERED,
        1,
        relay.clock.now,
    )
    assert sample(relay.metrics, "hookrelay_commits_delivered_total") == 1
    assert sample(relay.metrics, "hookrelay_delivery_latency_seconds_sum") == 2.5


def test_an_empty_queue_posts_nothing(relay: Relay) -> None:
    """With nothing due the worker leases nothing and posts nothing."""
    assert make_worker(relay).run_once() == 0
    assert relay.tracker.received == []


def test_503_then_200(relay: Relay) -> None:
    """A 503 waits for the back-off, then the commit is posted again and delivered."""
    relay.tracker.script = [Reply(503, b"Service Unavailable")]
    relay.queue()
    worker = make_worker(relay)
    assert worker.run_once() == 1
    waiting = only(relay.store)
    assert (waiting.state, waiting.next_attempt_at) == (State.WAITING, relay.clock.now + 10.0)
    assert waiting.last_error == "HTTP 503: Service Unavailable"
    relay.clock.advance(9.9)
    assert worker.run_once() == 0
    relay.clock.advance(0.1)
    assert worker.run_once() == 1
    assert (only(relay.store).state, only(relay.store).attempts) == (State.DELIVERED, 2)
    assert len(relay.tracker.received) == 2
    assert len(set(relay.tracker.bodies())) == 1
    assert sample(relay.metrics, "hookrelay_delivery_retries_total") == 1
    assert sample(relay.metrics, "hookrelay_commits_delivered_total") == 1


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [("120", 120.0), (email.utils.formatdate(1_000_000.0 + 300, usegmt=True), 300.0)],
    ids=["seconds", "http-date"],
)
def test_429_honours_retry_after(relay: Relay, retry_after: str, wait: float) -> None:
    """A 429's Retry-After (seconds, or an HTTP date read on the worker's clock) sets the next try."""
    relay.tracker.script = [Reply(429, b"slow down", headers=(("Retry-After", retry_after),))]
    relay.queue()
    worker = make_worker(relay)
    worker.run_once()
    assert only(relay.store).next_attempt_at == relay.clock.now + wait
    relay.clock.advance(wait - 1)
    assert worker.run_once() == 0
    relay.clock.advance(1)
    assert worker.run_once() == 1
    assert only(relay.store).state is State.DELIVERED


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            Reply(
                401,
                b"Invalid authentication credentials were presented.",
                (("Content-Type", "text/plain"),),
            ),
            "HTTP 401: Invalid authentication credentials were presented.",
        ),
        (
            Reply(
                422,
                b"<errors><error>Story 12345678 is not in this project</error></errors>",
                (("Content-Type", "application/xml"),),
            ),
            "HTTP 422: Story 12345678 is not in this project",
        ),
        (
            Reply(
                404,
                b'{"kind": "error", "code": "unfound_resource", '
                b'"error": "The object you tried to access could not be found."}',
                (("Content-Type", "application/json"),),
            ),
            "HTTP 404: The object you tried to access could not be found.",
        ),
    ],
    ids=["401-plain", "422-v3-xml", "404-v5-json"],
)
def test_a_refusal_is_dead_with_trackers_text(relay: Relay, reply: Reply, error: str) -> None:
    """A refusal goes to the dead list at once, with Tracker's own words, and is not retried."""
    relay.tracker.script = [reply]
    relay.queue()
    worker = make_worker(relay)
    worker.run_once()
    dead = only(relay.store)
    assert (dead.state, dead.last_error, dead.finished_at) == (State.DEAD, error, relay.clock.now)
    relay.clock.advance(POLICY.give_up_after * 10)
    assert worker.run_once() == 0
    assert len(relay.tracker.received) == 1
    assert sample(relay.metrics, "hookrelay_commits_dead_total") == 1


def test_a_refused_connection_waits(relay: Relay) -> None:
    """A Tracker that refuses connections is retried later, the reason kept."""
    base = f"http://127.0.0.1:{closed_port()}/services/v5"
    queue_commit(relay.store, base, now=relay.clock.now)
    make_worker(relay).run_once()
    waiting = only(relay.store)
    assert waiting.state is State.WAITING
    assert waiting.last_error.startswith("could not reach Tracker: ConnectError")


def test_gives_up_after_the_horizon(relay: Relay) -> None:
    """A commit still failing after the give-up horizon is dead, saying it gave up and why."""
    relay.tracker.default = Reply(503, b"down for maintenance")
    relay.queue()
    worker = make_worker(relay)
    worker.run_once()
    assert only(relay.store).state is State.WAITING
    relay.clock.advance(POLICY.give_up_after)
    worker.run_once()
    dead = only(relay.store)
    assert dead.state is State.DEAD
    assert dead.last_error == "gave up after 2 attempts in 1.0 h: HTTP 503: down for maintenance"


@pytest.mark.parametrize(
    ("target", "token", "reason"),
    [
        ("ftp://tracker.example/services/v5", TOKEN, "not an http(s) URL"),
        ("http://127.0.0.1:9/api", TOKEN, "/services/v3 or /services/v5"),
        ("http://127.0.0.1:9/services/v5", "two words", "visible ASCII"),
    ],
    ids=["not-http", "no-version", "token-with-space"],
)
def test_a_delivery_that_can_never_work_is_dead(
    relay: Relay, target: str, token: str, reason: str
) -> None:
    """A stored target or token no request can carry is dead at once, nothing posted."""
    row = NewDelivery("key", target, token, token_fingerprint(token), "c0ffee", b"{}")
    relay.store.enqueue([row], now=relay.clock.now)
    make_worker(relay).run_once()
    dead = only(relay.store)
    assert dead.state is State.DEAD
    assert reason in dead.last_error
    assert token not in dead.last_error


@pytest.mark.parametrize("how", ["run_once", "run"])
def test_stop_releases_commits_not_yet_posted(relay: Relay, how: str) -> None:
    """Commits leased but not yet posted when stop is set go back to the queue, uncounted:
    ``run_once``'s, and the batch ``run``'s threads share, before ``run`` returns."""
    stop = threading.Event()

    def stop_after_first(request: Received) -> Reply:
        stop.set()
        return Reply(200)

    relay.tracker.responder = stop_after_first
    for number in range(3):
        relay.queue(number)
    if how == "run_once":
        assert make_worker(relay, concurrency=1).run_once(stop, limit=3) == 3
    else:
        make_worker(relay, concurrency=1, batch=8, poll_interval=0.02).run(stop)
    assert len(relay.tracker.received) == 1
    states = sorted((d.state.value, d.attempts) for d in relay.store.list())
    assert states == [("delivered", 1), ("pending", 0), ("pending", 0)]


def test_run_delivers_everything_until_stopped(relay: Relay) -> None:
    """``run`` keeps delivering what is queued, several at once, and returns once stop is set."""
    for number in range(12):
        relay.queue(number)
    worker = make_worker(relay, concurrency=4, poll_interval=0.02)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: relay.store.counts()[State.DELIVERED] == 12, 10, "12 delivered")
        relay.queue(99)
        wait_until(lambda: relay.store.counts()[State.DELIVERED] == 13, 10, "13 delivered")
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert len(relay.tracker.received) == 13
    assert len(set(relay.tracker.bodies())) == 13


def test_stop_finishes_the_post_in_flight(relay: Relay) -> None:
    """A post in flight when stop is set is finished and recorded before ``run`` returns."""
    posting, answer = threading.Event(), threading.Event()

    def slow(request: Received) -> Reply:
        posting.set()
        answer.wait(10)
        return Reply(200)

    relay.tracker.responder = slow
    relay.queue()
    stop = threading.Event()
    thread = threading.Thread(target=make_worker(relay, poll_interval=0.02).run, args=(stop,))
    thread.start()
    wait_until(posting.is_set, 10, "a post under way")
    stop.set()
    thread.join(0.2)
    assert thread.is_alive(), "run returned with a post in flight"
    answer.set()
    thread.join(10)
    assert not thread.is_alive()
    assert only(relay.store).state is State.DELIVERED


def test_a_lost_lease_is_not_overwritten(relay: Relay) -> None:
    """If another worker took the commit over mid-post, this worker records nothing."""
    taken: list[Delivery] = []

    def taken_over(request: Received) -> Reply:
        # The post outlived its lease: another replica leases the commit meanwhile.
        relay.clock.advance(120)
        taken.extend(relay.store.lease(now=relay.clock.now, limit=1, lease_seconds=60))
        return Reply(200)

    relay.tracker.responder = taken_over
    relay.queue()
    make_worker(relay, lease_seconds=60).run_once()
    (other,) = taken
    assert only(relay.store) == other
    assert (other.state, other.attempts) == (State.LEASED, 2)
    assert sample(relay.metrics, "hookrelay_commits_delivered_total") == 0


def test_no_log_line_holds_the_token(relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    """Tracker echoing the token back gets it into neither the log nor the dead list."""
    relay.tracker.script = [Reply(503, f"bad token {TOKEN}".encode()), Reply(401, TOKEN.encode())]
    relay.queue()
    worker = make_worker(relay)
    with caplog.at_level(logging.DEBUG, logger="hookrelay"):
        worker.run_once()
        relay.clock.advance(10)
        worker.run_once()
    dead = only(relay.store)
    assert dead.state is State.DEAD
    assert TOKEN not in dead.last_error
    assert [r.event for r in caplog.records] == ["waiting", "dead"]
    assert caplog.records[-1].getMessage().endswith(" is dead (attempt 2): HTTP 401: [token]")
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(vars(record))
        assert record.token_fingerprint == dead.token_fingerprint


def test_prune_removes_old_finished_commits(relay: Relay) -> None:
    """Delivered commits older than ``keep_finished`` are pruned; newer ones stay listed."""
    relay.queue(1)
    worker = make_worker(relay, keep_finished=86400.0)
    worker.run_once()
    relay.clock.advance(86400.0)
    relay.queue(2)
    worker.run_once()
    relay.clock.advance(1)
    assert worker.prune() == 1
    assert [d.commit_id for d in relay.store.list()] == [f"{2:040x}"]


def _trickling(data: bytes) -> object:
    """A raw answer that sends ``data`` a byte every 20 ms until the client hangs up."""

    def answer(connection: socket.socket, request: bytes) -> bool:
        for byte in data:
            connection.sendall(bytes([byte]))
            time.sleep(0.02)
        return False

    return answer


@pytest.mark.timeout(60)
def test_an_answer_trickling_its_headers_is_a_failed_attempt_at_the_deadline(relay: Relay) -> None:
    """Headers sent a byte at a time cannot hold a post past lease / 3: the attempt fails,
    waits for its retry, and the commit was posted once."""
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: y\r\n" * 200 + b"\r\n"
    with running_raw_server(_trickling(head)) as server:  # type: ignore[arg-type]
        queue_commit(relay.store, f"{server.url}/services/v5", now=relay.clock.now)
        worker = make_worker(relay, lease_seconds=1.5)
        began = time.monotonic()
        assert worker.run_once() == 1
        took = time.monotonic() - began
        requests = len(server.requests)
    waiting = only(relay.store)
    assert waiting.state is State.WAITING
    assert waiting.last_error == "Tracker did not answer in time (ReadTimeout)"
    assert requests == 1
    assert took < 0.5 + 2.0, "the post outlived its deadline"


@pytest.mark.timeout(60)
def test_a_2xx_is_recorded_before_its_body_arrives(relay: Relay) -> None:
    """A 200 is delivered in the queue on its status line, before any of its body is sent, so
    a crash while the body arrives cannot post the commit again."""
    recorded_before_body: list[bool] = []

    def answer(connection: socket.socket, request: bytes) -> bool:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
        deadline = time.monotonic() + 10
        while only(relay.store).state is not State.DELIVERED and time.monotonic() < deadline:
            time.sleep(0.01)
        recorded_before_body.append(only(relay.store).state is State.DELIVERED)
        connection.sendall(b"{}")
        return True

    with running_raw_server(answer) as server:
        queue_commit(relay.store, f"{server.url}/services/v5", now=relay.clock.now)
        assert make_worker(relay, lease_seconds=60).run_once() == 1
    assert recorded_before_body == [True]
    assert only(relay.store).attempts == 1


def test_drain_delivers_everything_due_with_several_threads(relay: Relay) -> None:
    """``drain`` delivers every due commit, each posted once, and returns how many it leased."""
    for number in range(20):
        relay.queue(number)
    assert make_worker(relay, concurrency=4, batch=8).drain() == 20
    assert relay.store.counts()[State.DELIVERED] == 20
    assert len(set(relay.tracker.bodies())) == len(relay.tracker.received) == 20


class _LeaseBug:
    """A queue whose ``lease`` fails with an error no store raises (a bug), else the real one."""

    def __init__(self, store: QueueStore) -> None:
        self._store = store

    def lease(self, *, now: float, limit: int, lease_seconds: float) -> list[Delivery]:
        """Fail as a bug would."""
        raise RuntimeError("a bug in the queue")

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def test_a_thread_failing_unexpectedly_stops_run_with_its_error(relay: Relay) -> None:
    """An unexpected error in a posting thread ends ``run`` with that error (``serve`` then
    stops) instead of leaving the queue without its workers."""
    worker = DeliveryWorker(
        _LeaseBug(relay.store),  # type: ignore[arg-type]
        relay.http,
        clock=relay.clock,
        poll_interval=0.02,
    )
    stop = threading.Event()
    with pytest.raises(RuntimeError, match="a bug in the queue"):
        worker.run(stop)
