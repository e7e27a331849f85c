"""Liveness, readiness and metrics over real HTTP."""

from __future__ import annotations

from tests.web.conftest import Receiver, ReceiverFactory, github_headers, push_body, pushed_commit


def test_healthz_and_readyz_answer_when_the_store_is_reachable(receiver: Receiver) -> None:
    """/healthz says the process lives, /readyz that the queue can be written."""
    assert receiver.client.get("/healthz").json() == {"status": "ok"}
    assert receiver.client.get("/readyz").json() == {"status": "ready"}


def test_readyz_is_503_when_the_store_is_gone(make_receiver: ReceiverFactory) -> None:
    """With the queue unusable, /readyz and a push answer 503 while /healthz still answers."""
    with make_receiver() as receiver:
        receiver.store.close()
        ready = receiver.client.get("/readyz")
        assert ready.status_code == 503
        # What failed, and where the database is, goes to the log; a caller learns no more.
        assert ready.json()["detail"] == "the queue is unavailable"
        body = push_body([pushed_commit("a" * 40, "[#1] x")])
        push = receiver.client.post("/github", content=body, headers=github_headers(body))
        # Not 2xx: GitHub keeps the delivery and can redeliver it; nothing was promised.
        assert push.status_code == 503
        assert push.json()["detail"] == "the queue is unavailable"
        assert receiver.client.get("/healthz").status_code == 200
        assert receiver.client.get("/metrics").status_code == 200


def test_metrics_are_prometheus_text(receiver: Receiver) -> None:
    """/metrics answers Prometheus' text format with the relay's own series only."""
    answer = receiver.client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    assert "hookrelay_queue_depth" in answer.text
    assert "hookrelay_oldest_pending_age_seconds 0.0" in answer.text
    assert "python_gc_objects_collected_total" not in answer.text
