"""The dashboard's doors over plain HTTP (the browser tests drive the pages themselves)."""

from __future__ import annotations

import dataclasses
import re
import time

import httpx

from hookrelay.queue.store import InboxPush
from hookrelay.web.routes import dashboard
from tests.queue.test_store_contract import new_delivery
from tests.web.conftest import Receiver, ReceiverFactory, github_headers, push_body, pushed_commit

ADMIN = "dashboard-admin-token"


def test_closed_without_an_admin_token_and_root_redirects(receiver: Receiver) -> None:
    """``/`` redirects to the dashboard, which says it is off (403) without an admin token."""
    root = receiver.client.get("/")
    assert (root.status_code, root.headers["location"]) == (307, "/dashboard")
    closed = receiver.client.get("/dashboard")
    assert closed.status_code == 403
    assert "HOOKRELAY_ADMIN_TOKEN" in closed.text
    assert "Admin token" not in closed.text


def test_bearer_token_reads_and_acts_without_csrf(make_receiver: ReceiverFactory) -> None:
    """``Authorization: Bearer`` opens every page and lets a script POST (no cookie, no CSRF)."""
    with make_receiver(admin_token=ADMIN) as receiver:
        body = push_body([pushed_commit("e" * 40, "[#12345] one")])
        receiver.client.post("/github", content=body, headers=github_headers(body))
        (leased,) = receiver.store.lease(now=time.time(), limit=1, lease_seconds=60)
        receiver.store.mark_dead(leased, now=time.time(), error="HTTP 403: nope")
        bearer = {"Authorization": f"Bearer {ADMIN}"}
        page = receiver.client.get("/dashboard/deliveries?story=12345", headers=bearer)
        assert page.status_code == 200
        assert "e" * 12 in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert page.headers["x-frame-options"] == "DENY"
        wrong = receiver.client.get("/dashboard", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        raw = receiver.client.get(f"/dashboard/deliveries/{leased.id}/body", headers=bearer)
        assert raw.content == leased.body
        done = receiver.client.post(f"/dashboard/deliveries/{leased.id}/discard", headers=bearer)
        assert done.status_code == 303
        assert receiver.store.get(leased.id) is None


def test_a_forged_or_stale_session_cookie_is_the_login_form(
    make_receiver: ReceiverFactory,
) -> None:
    """A session cookie with a wrong MAC, or older than 12 hours, opens nothing."""
    with make_receiver(admin_token=ADMIN) as receiver:
        client = receiver.client
        form = client.get("/dashboard").text
        login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', form)
        assert login_csrf is not None
        answer = client.post(
            "/dashboard/login",
            data={"token": ADMIN, "login_csrf": login_csrf.group(1), "next": "//evil.example"},
        )
        assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard")
        cookie = client.cookies["hookrelay_session"]
        issued, nonce, _ = cookie.split(".")
        assert client.get("/dashboard").status_code == 200
        stale = dashboard._new_session_cookie(dashboard._key(ADMIN), time.time() - 13 * 3600)
        for forged in (f"{issued}.{nonce}.{'0' * 64}", stale):
            with httpx.Client(base_url=receiver.url) as other:
                other.cookies.set("hookrelay_session", forged, path="/dashboard")
                assert other.get("/dashboard").status_code == 401
        without_csrf = client.post("/dashboard/login", data={"token": ADMIN})
        assert without_csrf.status_code == 403
        assert "expired" in without_csrf.text


def test_the_session_cookie_is_secure_over_https(make_receiver: ReceiverFactory) -> None:
    """Behind a TLS proxy on loopback (X-Forwarded-Proto: https) the cookies are Secure; over
    plain http they cannot be, and both ways they are HttpOnly and SameSite=Strict."""
    with make_receiver(admin_token=ADMIN) as receiver:
        for proto, secure in (("https", True), ("http", False)):
            headers = {"X-Forwarded-Proto": proto}
            with httpx.Client(base_url=receiver.url, headers=headers) as client:
                login_csrf = re.search(
                    r'name="login_csrf" value="([^"]+)"', client.get("/dashboard").text
                )
                assert login_csrf is not None
                # A browser on https sends the Secure login cookie back; httpx on http would not.
                answer = client.post(
                    "/dashboard/login",
                    data={"token": ADMIN, "login_csrf": login_csrf.group(1)},
                    headers={"Cookie": f"hookrelay_login={login_csrf.group(1)}"},
                )
            session = next(
                c for c in answer.headers.get_list("set-cookie") if "hookrelay_session=" in c
            )
            attributes = {part.strip().lower() for part in session.split(";")}
            assert "httponly" in attributes
            assert "samesite=strict" in attributes
            assert ("secure" in attributes) is secure


def test_a_dead_letter_delivered_on_retry_reads_accepted(make_receiver: ReceiverFactory) -> None:
    """Once a retried dead letter is delivered, its page and the list say Tracker accepted it,
    not the old refusal (which stays in the attempts table); while a retry is in flight the
    attempts heading counts only the attempts it lists."""
    with make_receiver(admin_token=ADMIN) as receiver:
        body = push_body([pushed_commit("f" * 40, "[#12345] one")])
        receiver.client.post("/github", content=body, headers=github_headers(body))
        store = receiver.store
        (first,) = store.lease(now=time.time(), limit=1, lease_seconds=60)
        store.mark_dead(first, now=time.time(), error="HTTP 401: Access Denied.")
        bearer = {"Authorization": f"Bearer {ADMIN}"}
        overview = receiver.client.get("/dashboard", headers=bearer).text
        assert "Retry the dead letter with today" in overview
        assert store.retry(first.id, now=time.time())
        (second,) = store.lease(now=time.time(), limit=1, lease_seconds=60)
        in_flight = receiver.client.get(f"/dashboard/deliveries/{first.id}", headers=bearer).text
        assert "Attempts (1, one in flight)" in in_flight
        assert store.mark_delivered(second, now=time.time())
        page = receiver.client.get(f"/dashboard/deliveries/{first.id}", headers=bearer).text
        last = re.search(r"<dt>Tracker's last answer</dt>(<dd[^>]*>[^<]*</dd>)", page)
        assert last is not None
        assert last.group(1) == "<dd>accepted</dd>"
        assert "Attempts (2)" in page
        assert "HTTP 401: Access Denied." in page  # the first attempt's row keeps it
        listed = receiver.client.get("/dashboard/deliveries?state=delivered", headers=bearer).text
        assert "<td>accepted</td>" in listed
        assert "Access Denied" not in listed


def test_ingest_commits_are_a_row_without_a_misleading_link(make_receiver: ReceiverFactory) -> None:
    """Commits from the Tracker-compatible ingest name no repository: their overview row reads
    '(none: ingest)' as text, not a link to ``?repository=`` (which would list everything)."""
    with make_receiver(admin_token=ADMIN) as receiver:
        receiver.store.enqueue([dataclasses.replace(new_delivery(1), repository="")], now=1.0)
        bearer = {"Authorization": f"Bearer {ADMIN}"}
        page = receiver.client.get("/dashboard", headers=bearer).text
        assert "<td>(none: ingest)</td>" in page
        assert 'href="/dashboard/deliveries?repository="' not in page


def test_the_overview_counts_pushes_waiting_in_the_inbox(make_receiver: ReceiverFactory) -> None:
    """Pushes kept under load and not yet expanded are on the overview, so an operator sees a
    push that waits (the log says why one cannot be planned)."""
    with make_receiver(admin_token=ADMIN) as receiver:
        bearer = {"Authorization": f"Bearer {ADMIN}"}
        assert (
            "<b>Pushes in the inbox:</b> 0</p>"
            in receiver.client.get("/dashboard", headers=bearer).text
        )
        receiver.store.accept([InboxPush(b"kept", None), InboxPush(b"kept", None)], now=1.0)
        page = receiver.client.get("/dashboard", headers=bearer).text
        assert "<b>Pushes in the inbox:</b> 2 (accepted under load" in page
