"""The delivery list behind HOOKRELAY_ADMIN_TOKEN: listing, showing and retrying, no tokens shown."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from hookrelay.queue.store import PUBLIC_FIELDS, public_view
from hookrelay.web.routes.deliveries import DeliveryOut
from tests.web.conftest import (
    TOKEN,
    Receiver,
    ReceiverFactory,
    github_headers,
    push_body,
    pushed_commit,
)

ADMIN = "admin-secret-token"
BEARER = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def admin_receiver(make_receiver: ReceiverFactory) -> Iterator[Receiver]:
    """A receiver with an admin token and two queued commits, the older one dead."""
    with make_receiver(admin_token=ADMIN) as receiver:
        body = push_body([pushed_commit("1" * 40, "[#1] one"), pushed_commit("2" * 40, "[#2] two")])
        receiver.client.post("/github", content=body, headers=github_headers(body))
        (leased,) = receiver.store.lease(now=time.time(), limit=1, lease_seconds=60)
        receiver.store.mark_dead(leased, now=time.time(), error="HTTP 404: story not found")
        yield receiver


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Basic {ADMIN}"}, 401),
        ({"Authorization": ADMIN}, 401),
        (BEARER, 200),
    ],
    ids=["none", "wrong", "basic", "no-scheme", "bearer"],
)
def test_the_list_needs_the_admin_token(
    admin_receiver: Receiver, headers: dict[str, str], status: int
) -> None:
    """Only Authorization: Bearer <HOOKRELAY_ADMIN_TOKEN> opens the delivery list."""
    answer = admin_receiver.client.get("/deliveries", headers=headers)
    assert answer.status_code == status
    if status == 401:
        assert answer.headers["www-authenticate"] == "Bearer"


def test_without_an_admin_token_the_list_is_off(receiver: Receiver) -> None:
    """With no HOOKRELAY_ADMIN_TOKEN the endpoints answer 403 and say how to turn them on."""
    answer = receiver.client.get("/deliveries", headers=BEARER)
    assert answer.status_code == 403
    assert "HOOKRELAY_ADMIN_TOKEN" in answer.json()["detail"]


def test_list_shows_states_counts_and_no_token(admin_receiver: Receiver) -> None:
    """The list shows each commit's state and error, newest first, and never the token."""
    answer = admin_receiver.client.get("/deliveries", headers=BEARER)
    document = answer.json()
    assert [d["commit_id"] for d in document["deliveries"]] == ["2" * 40, "1" * 40]
    assert document["counts"]["dead"] == 1
    assert document["counts"]["pending"] == 1
    assert document["deliveries"][1]["last_error"] == "HTTP 404: story not found"
    assert TOKEN not in answer.text
    dead = admin_receiver.client.get("/deliveries", params={"state": "dead"}, headers=BEARER).json()
    assert [d["state"] for d in dead["deliveries"]] == ["dead"]


def test_show_and_retry_one_delivery(admin_receiver: Receiver) -> None:
    """A dead delivery can be shown and retried by id; unknown ids are 404."""
    dead_id = admin_receiver.client.get(
        "/deliveries", params={"state": "dead"}, headers=BEARER
    ).json()["deliveries"][0]["id"]
    shown = admin_receiver.client.get(f"/deliveries/{dead_id}", headers=BEARER)
    assert shown.json()["state"] == "dead"
    retried = admin_receiver.client.post(f"/deliveries/{dead_id}/retry", headers=BEARER)
    assert retried.status_code == 200
    assert retried.json()["state"] == "pending"
    assert admin_receiver.client.get("/deliveries/999", headers=BEARER).status_code == 404
    assert admin_receiver.client.post("/deliveries/999/retry", headers=BEARER).status_code == 404


def test_http_shows_the_public_view_the_cli_shows(admin_receiver: Receiver) -> None:
    """A delivery over HTTP has exactly ``public_view``'s fields, in its order, its times of a
    lease among them, and ``DeliveryOut`` declares each of them."""
    store = admin_receiver.store
    (leased,) = store.lease(now=time.time(), limit=1, lease_seconds=60)
    shown = admin_receiver.client.get(f"/deliveries/{leased.id}", headers=BEARER).json()
    assert shown == public_view(store.get(leased.id) or leased)
    assert tuple(shown) == PUBLIC_FIELDS == tuple(DeliveryOut.model_fields)
    assert shown["lease_until"] is not None
    assert shown["first_attempt_at"] is not None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/deliveries/99999999999999999999999"),
        ("POST", "/deliveries/99999999999999999999999/retry"),
        ("GET", "/deliveries/0"),
        ("GET", "/deliveries/abc"),
        ("GET", "/deliveries?before_id=99999999999999999999999"),
        ("GET", "/deliveries?state=bogus"),
        ("GET", "/deliveries?limit=0"),
    ],
    ids=[
        "huge-id",
        "huge-retry",
        "zero-id",
        "not-a-number",
        "huge-before",
        "bad-state",
        "zero-limit",
    ],
)
def test_bad_ids_and_filters_are_400_with_one_line(
    admin_receiver: Receiver, method: str, path: str
) -> None:
    """A delivery id or filter out of range is a 400 with a one-line reason, not a 500 or a list."""
    answer = admin_receiver.client.request(method, path, headers=BEARER)
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert isinstance(detail, str)
    assert "\n" not in detail


def test_retries_say_which_token_and_target_they_use(admin_receiver: Receiver) -> None:
    """A retry answers with the token's fingerprint and target it goes with (today's settings);
    retry-dead retries one repository's dead letters, or all; a delivered one is a 409."""
    dead_id = admin_receiver.store.dead_ids()[0]
    retried = admin_receiver.client.post(f"/deliveries/{dead_id}/retry", headers=BEARER).json()
    assert retried["retried_with"].startswith("with today's token (fingerprint ")
    assert TOKEN not in retried["message"]
    (leased,) = admin_receiver.store.lease(now=time.time() + 1, limit=1, lease_seconds=60)
    admin_receiver.store.mark_dead(leased, now=time.time(), error="HTTP 404")
    none = admin_receiver.client.post(
        "/deliveries/retry-dead", params={"repository": "other/repo"}, headers=BEARER
    )
    assert none.json() == {"retried": 0, "deliveries": []}
    mine = admin_receiver.client.post(
        "/deliveries/retry-dead", params={"repository": "OCTO/cat"}, headers=BEARER
    ).json()
    assert mine["retried"] == 1
    assert mine["deliveries"][0]["message"].startswith(f"delivery {leased.id} (commit ")
    (leased,) = admin_receiver.store.lease(now=time.time() + 1, limit=1, lease_seconds=60)
    admin_receiver.store.mark_delivered(leased, now=time.time())
    again = admin_receiver.client.post(f"/deliveries/{leased.id}/retry", headers=BEARER)
    assert again.status_code == 409
    assert "would post the commit twice" in again.json()["detail"]
    assert admin_receiver.client.post("/deliveries/retry-dead").status_code == 401
