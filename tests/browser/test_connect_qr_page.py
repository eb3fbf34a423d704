"""The QR page in a real browser: key → QR image → the simulated phone scans → "Connected"."""

from __future__ import annotations

from typing import Any

import pytest

from tests.procs import REPO, Stack, disconnect

pytestmark = pytest.mark.browser

SCREENSHOT = REPO / "build" / "screenshots" / "connect_qr.png"
TIMEOUT_MS = 15_000


def _open_page(page: Any, stack: Stack, query: str = "") -> None:
    response = page.goto(stack.base_url + "/connect/qr" + query)
    assert response.status == 200
    assert "script-src 'sha256-" in response.headers["content-security-policy"]


def _enter_key(page: Any, key: str) -> None:
    page.fill("#api-key", key)
    page.click("button[type=submit]")


def test_the_page_pairs_the_phone_and_says_connected(stack: Stack, page: Any) -> None:
    from playwright.sync_api import expect

    disconnect(stack)
    _open_page(page, stack)
    expect(page.locator("#api-key")).to_be_visible()
    _enter_key(page, stack.api_key)

    qr = page.locator("#qr")
    expect(qr).to_be_visible(timeout=TIMEOUT_MS)
    page.wait_for_function("document.getElementById('qr').complete", timeout=TIMEOUT_MS)
    assert qr.evaluate("img => img.naturalWidth") > 0
    assert qr.get_attribute("src").startswith("data:image/png;base64,")
    expect(page.locator("#status")).to_have_text("Scan this QR code with WhatsApp.")
    assert page.evaluate("sessionStorage.length") == 1
    assert stack.api_key not in page.url
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    stack.sim("POST", f"/instances/{stack.instance}/scan", json={}).raise_for_status()

    expect(page.locator("#status")).to_have_text("Connected", timeout=TIMEOUT_MS)
    expect(qr).to_be_hidden()
    expect(page.locator("#done")).to_be_visible()
    page.screenshot(path=str(SCREENSHOT.with_name("connect_qr_connected.png")), full_page=True)
    assert page.errors == []


def test_no_qr_code_yet_reads_as_waiting_never_as_connected(stack: Stack, page: Any) -> None:
    import json

    from playwright.sync_api import expect

    answers = [{"instance": stack.instance, "state": "connecting", "qr_code": None, "pairing_code": None}]

    def first_answer_has_no_qr(route: Any) -> None:
        if answers:
            route.fulfill(status=200, content_type="application/json", body=json.dumps(answers.pop()))
        else:
            route.continue_()

    disconnect(stack)
    page.route("**/connect", first_answer_has_no_qr)
    _open_page(page, stack)
    _enter_key(page, stack.api_key)

    expect(page.locator("#status")).to_have_text("Waiting for a QR code…", timeout=TIMEOUT_MS)
    expect(page.locator("#qr")).to_be_hidden()
    expect(page.locator("#qr")).to_be_visible(timeout=TIMEOUT_MS)  # the next refresh brings the QR
    expect(page.locator("#status")).to_have_text("Scan this QR code with WhatsApp.")


def test_a_phone_in_the_query_string_shows_a_pairing_code(stack: Stack, page: Any) -> None:
    from playwright.sync_api import expect

    disconnect(stack)
    _open_page(page, stack, "?phone=%2B5511999990002")
    expect(page.locator("#phone")).to_have_value("+5511999990002")
    _enter_key(page, stack.api_key)

    code = page.locator("#pairing-code")
    expect(code).to_be_visible(timeout=TIMEOUT_MS)
    assert len(code.inner_text()) == 8

    stack.sim("POST", f"/instances/{stack.instance}/scan", json={}).raise_for_status()
    expect(page.locator("#status")).to_have_text("Connected", timeout=TIMEOUT_MS)


def test_a_wrong_key_is_explained_and_forgotten(stack: Stack, page: Any) -> None:
    from playwright.sync_api import expect

    _open_page(page, stack)
    _enter_key(page, "not-the-key")

    expect(page.locator("#error")).to_have_text("That API key was not accepted.", timeout=TIMEOUT_MS)
    expect(page.locator("#api-key")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_forget_key_clears_the_stored_key(stack: Stack, page: Any) -> None:
    from playwright.sync_api import expect

    _open_page(page, stack)
    _enter_key(page, stack.api_key)
    expect(page.locator("#forget")).to_be_visible(timeout=TIMEOUT_MS)
    page.reload()
    expect(page.locator("#status")).not_to_be_empty(timeout=TIMEOUT_MS)  # the tab remembered the key
    expect(page.locator("#api-key")).to_be_hidden()

    page.click("#forget")

    expect(page.locator("#api-key")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_an_unavailable_evolution_is_explained(stack: Stack, page: Any) -> None:
    from playwright.sync_api import expect

    stack.sim("DELETE", "/faults").raise_for_status()
    stack.sim(
        "POST",
        "/faults",
        json={"route_prefix": "/instance/connectionState", "kind": "status", "status": 503, "count": 5},
    ).raise_for_status()
    try:
        _open_page(page, stack)
        _enter_key(page, stack.api_key)
        expect(page.locator("#error")).to_contain_text("Evolution is unavailable", timeout=TIMEOUT_MS)
    finally:
        stack.sim("DELETE", "/faults").raise_for_status()


def test_a_network_error_is_explained_and_retried(stack: Stack, page: Any) -> None:
    from playwright.sync_api import expect

    calls: list[str] = []

    def offline(route: Any) -> None:
        calls.append(route.request.method)
        route.abort("internetdisconnected")

    page.route("**/connect", offline)
    _open_page(page, stack)
    _enter_key(page, stack.api_key)

    expect(page.locator("#error")).to_contain_text("Cannot reach the service", timeout=TIMEOUT_MS)
    expect(page.locator("#api-key")).to_be_hidden()  # the key is kept: a network error says nothing about it
    assert calls == ["POST"]
