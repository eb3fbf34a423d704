"""The broadcast progress page in a real browser: key → progress bar, ETA, failures with their
reasons → pause and resume with the buttons → completed."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.procs import REPO, Stack, ensure_connected

pytestmark = pytest.mark.browser

SCREENSHOT = REPO / "build" / "screenshots" / "broadcast_view.png"
TIMEOUT_MS = 20_000
_numbers = itertools.count(1)


def test_the_page_shows_progress_failures_and_pauses_and_resumes_the_broadcast(
    stack: Stack, page: Any
) -> None:
    from playwright.sync_api import expect

    ensure_connected(stack)
    good = [f"+552197{next(_numbers):03d}1234" for _ in range(5)]
    refused = "+5521977770000"  # the simulator says numbers ending in 0000 are not on WhatsApp
    body = {
        "name": "Recordatorio entrevistas 2-dic",
        "text": "Hola, te esperamos mañana a las 10:00.",
        "recipients": [{"to": good[0]}, {"to": refused, "reference": "cand-refused"}, {"to": "12"}]
        + [{"to": n} for n in good[1:]],
        "pacing": {"per_minute": 30, "jitter": 0},
    }
    created = stack.api("POST", "/broadcasts", json=body)
    assert created.status_code == 202, created.text
    broadcast_id = created.json()["id"]

    response = page.goto(f"{stack.base_url}/broadcasts/{broadcast_id}/view")
    assert response.status == 200
    assert "script-src 'sha256-" in response.headers["content-security-policy"]
    page.fill("#api-key", stack.api_key)
    page.click("button[type=submit]")
    expect(page.locator("#name")).to_have_text("Recordatorio entrevistas 2-dic", timeout=TIMEOUT_MS)
    expect(page.locator("#count-skipped")).to_have_text("skipped 1")
    expect(page.locator("#failed-rows tr")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(page.locator("#failed-rows")).to_contain_text("RecipientNotOnWhatsApp")
    expect(page.locator("#meta")).to_contain_text("ETA")
    assert page.evaluate("sessionStorage.length") == 1 and stack.api_key not in page.url

    page.click("#pause")
    expect(page.locator("#status")).to_have_text("paused", timeout=TIMEOUT_MS)
    expect(page.locator("#resume")).to_be_enabled()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert stack.api("GET", f"/broadcasts/{broadcast_id}").json()["status"] == "paused"

    page.click("#resume")
    expect(page.locator("#status")).to_have_text("completed", timeout=TIMEOUT_MS)
    expect(page.locator("#pause")).to_be_disabled()
    expect(page.locator("#cancel")).to_be_disabled()
    page.screenshot(path=str(SCREENSHOT.with_name("broadcast_view_completed.png")), full_page=True)
    assert page.errors == []


def test_a_refused_key_asks_again(stack: Stack, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{stack.base_url}/broadcasts/bc_01JDQ4Z9W6M8E3V7K2B5N1P0RS/view")
    page.fill("#api-key", "not-the-key")
    page.click("button[type=submit]")
    expect(page.locator("#error")).to_have_text("That API key was refused.", timeout=TIMEOUT_MS)
    expect(page.locator("#key-form")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
