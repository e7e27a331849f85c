"""The dashboard driven in a real browser: Debian's Chromium through Playwright, against a real
relay (uvicorn and workers on loopback) delivering to the Tracker emulator.

No browser is ever downloaded: Playwright launches ``/usr/bin/chromium`` (``scripts/bootstrap``
installs it). Without it the tests are skipped on a laptop and fail under CI.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from hookrelay.queue import State
from tests.e2e.conftest import SECRET, running_relay
from tests.support.emulator import RunningEmulator, running_emulator
from tests.web.conftest import github_headers, push_body, pushed_commit

CHROMIUM = Path("/usr/bin/chromium")
ADMIN = "admin-token-for-the-dashboard"
RIGHT = "the-right-tracker-token"
WRONG = "a-wrong-tracker-token"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: scripts/bootstrap installs it (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def tracker() -> Iterator[RunningEmulator]:
    """The Tracker emulator, accepting only the right token."""
    with running_emulator(token=RIGHT) as emulator:
        yield emulator


def _push(relay: Any, sha: str, message: str) -> None:
    body = push_body([pushed_commit(sha, message)], repository="octo/rocket")
    answer = relay.client.post("/github", content=body, headers=github_headers(body, secret=SECRET))
    assert answer.status_code == 202, answer.text


def test_an_operator_mends_a_dead_letter_from_the_page(
    browser: Any, tracker: RunningEmulator, tmp_path: Path
) -> None:
    """Log in with the admin token, find the dead letter with Tracker's words, fix the token,
    retry it from its page and see it delivered (and the story commented)."""
    project = tracker.create_project("rocket")
    story = tracker.create_story(project, "Torpedoes")
    database_url = f"sqlite:///{tmp_path / 'queue.db'}"
    settings = {"tracker_url": tracker.v5_url, "admin_token": ADMIN}
    sha = "c0ffee" + "0" * 34
    with running_relay(database_url, tracker_token=WRONG, **settings) as relay:
        _push(relay, sha, f"[Finishes #{story}] Torpedoes powered")
        relay.wait_until(lambda: relay.store.counts()[State.DEAD] == 1, "the dead letter")
    # The operator fixes HOOKRELAY_TRACKER_TOKEN and restarts serve on the same queue.
    with running_relay(database_url, tracker_token=RIGHT, **settings) as relay:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(f"{relay.url}/")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            page.get_by_label("Admin token").fill(ADMIN)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Overview")).to_be_visible()
            expect(page.locator('[data-state="dead"]')).to_have_text("1")
            shots = Path(os.environ.get("HOOKRELAY_SCREENSHOTS", tmp_path))
            page.screenshot(path=str(shots / "dashboard-overview.png"), full_page=True)
            print(f"screenshot: {shots / 'dashboard-overview.png'}")

            page.get_by_role("link", name="Dead letters").click()
            row = page.locator("table.list tbody tr", has_text="Access Denied")
            expect(row).to_have_count(1)
            expect(row).to_contain_text("HTTP 401")
            row.get_by_role("link", name=sha[:12]).click()
            expect(
                page.get_by_role("heading", name=re.compile(r"Delivery \d+ dead"))
            ).to_be_visible()
            expect(page.locator("td.answer").first).to_contain_text("Access Denied")

            page.get_by_role("button", name="Retry now with today's settings").click()
            expect(page.locator(".notice")).to_contain_text("due now, with today's token")
            expect(page.locator("h1 .state")).to_have_text("delivered", timeout=20_000)
            expect(page.locator("table tbody tr")).to_have_count(2)  # the 401, then delivered

            # The list refreshes itself in place, keeping its filters.
            filtered = f"{relay.url}/dashboard/deliveries?state=delivered&repository=octo%2Frocket"
            page.goto(filtered)
            rows = page.locator("table.list tbody tr")
            expect(rows).to_have_count(1)
            _push(relay, "beef" + "0" * 36, f"[#{story}] more torpedoes")
            expect(rows).to_have_count(2, timeout=25_000)
            assert page.url == filtered
            expect(page.get_by_label("Repository")).to_have_value("octo/rocket")
        finally:
            page.close()
    comments = tracker.comments(project, story)
    assert [c["commit_identifier"] for c in comments] == [sha, "beef" + "0" * 36]
    assert tracker.story(project, story)["current_state"] == "finished"


def test_without_the_token_only_the_login_form_is_served(
    browser: Any, tracker: RunningEmulator, tmp_path: Path
) -> None:
    """Every page is the login form until signed in, a wrong token is refused, and a POST
    carrying the session cookie but not the CSRF token changes nothing."""
    database_url = f"sqlite:///{tmp_path / 'queue.db'}"
    with running_relay(
        database_url, tracker_url=tracker.v5_url, tracker_token=WRONG, admin_token=ADMIN
    ) as relay:
        _push(relay, "d" * 40, "[#1] a commit Tracker will refuse")
        relay.wait_until(lambda: relay.store.counts()[State.DEAD] == 1, "the dead letter")
        (dead,) = relay.store.list(state=State.DEAD)
        context = browser.new_context()
        page = context.new_page()
        try:
            for path in (
                "/dashboard",
                "/dashboard/deliveries?state=dead",
                f"/dashboard/deliveries/{dead.id}",
            ):
                answer = page.goto(f"{relay.url}{path}")
                assert answer is not None
                assert answer.status == 401
                expect(page.get_by_label("Admin token")).to_be_visible()
                expect(page.locator("table")).to_have_count(0)
                assert dead.commit_id[:12] not in page.content()
            page.get_by_label("Admin token").fill("not-the-admin-token")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("alert")).to_have_text("That is not the admin token.")

            page.get_by_label("Admin token").fill(ADMIN)
            page.get_by_role("button", name="Sign in").click()
            # Signed in, it lands on the page it asked for.
            expect(
                page.get_by_role("heading", name=re.compile(f"Delivery {dead.id}"))
            ).to_be_visible()
            cookie = next(c for c in context.cookies() if c["name"] == "hookrelay_session")
            assert cookie["httpOnly"] is True
            assert cookie["sameSite"] == "Strict"

            forged = context.request.post(
                f"{relay.url}/dashboard/deliveries/{dead.id}/retry", form={"back": "/dashboard"}
            )
            assert forged.status == 403
            assert "CSRF" in forged.text()
            forged = context.request.post(
                f"{relay.url}/dashboard/deliveries/{dead.id}/discard",
                form={"csrf": "0" * 64},
            )
            assert forged.status == 403
            still = relay.store.get(dead.id)
            assert still is not None
            assert still.state is State.DEAD
        finally:
            context.close()


def test_discard_asks_first_and_a_no_keeps_the_dead_letter(
    browser: Any, tracker: RunningEmulator, tmp_path: Path
) -> None:
    """Discard cannot be undone, so the page asks: answering no keeps the dead letter, yes
    discards it."""
    database_url = f"sqlite:///{tmp_path / 'queue.db'}"
    with running_relay(
        database_url, tracker_url=tracker.v5_url, tracker_token=WRONG, admin_token=ADMIN
    ) as relay:
        _push(relay, "e" * 40, "[#1] a commit Tracker will refuse")
        relay.wait_until(lambda: relay.store.counts()[State.DEAD] == 1, "the dead letter")
        (dead,) = relay.store.list(state=State.DEAD)
        page = browser.new_page()
        questions: list[str] = []
        try:
            page.goto(f"{relay.url}/dashboard/deliveries/{dead.id}")
            page.get_by_label("Admin token").fill(ADMIN)
            page.get_by_role("button", name="Sign in").click()
            discard = page.get_by_role("button", name="Discard")

            def say_no(dialog: Any) -> None:
                questions.append(dialog.message)
                dialog.dismiss()

            page.once("dialog", say_no)
            discard.click()
            expect(
                page.get_by_role("heading", name=re.compile(r"Delivery \d+ dead"))
            ).to_be_visible()
            assert relay.store.get(dead.id) is not None
            assert questions == [
                f"Discard delivery {dead.id} (commit {'e' * 12}) for good? It will never be posted."
            ]

            page.once("dialog", lambda dialog: dialog.accept())
            discard.click()
            expect(page.locator(".notice")).to_contain_text(f"delivery {dead.id} was discarded")
            assert relay.store.get(dead.id) is None
        finally:
            page.close()
