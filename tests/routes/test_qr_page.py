"""GET /connect/qr: a public, self-contained HTML page under a strict Content-Security-Policy."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest

from tests.conftest import API_KEY, WEBHOOK_SECRET


def _get(api: Any, **headers: str) -> Any:
    return api.http.get("/connect/qr", headers=headers)


def _inline(html: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)


def _csp(response: Any) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";"))}


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_page_is_public_and_served_as_uncached_html(api: Any) -> None:
    response = _get(api)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.body.decode().startswith("<!doctype html>")


def test_the_page_carries_a_request_id_like_every_response(api: Any) -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", _get(api).headers["X-Request-Id"])
    assert _get(api, **{"X-Request-Id": "trace-42"}).headers["X-Request-Id"] == "trace-42"


def test_a_wrong_api_key_does_not_matter_to_the_public_page(api: Any) -> None:
    assert _get(api, Authorization="Bearer not-a-key").status_code == 200


def test_the_policy_allows_only_the_pages_own_inline_script_and_style_by_hash(api: Any) -> None:
    response = _get(api)
    html = response.body.decode()
    csp = _csp(response)

    scripts, styles = _inline(html, "script"), _inline(html, "style")
    assert len(scripts) == 1
    assert csp["script-src"] == [_hash(scripts[0])]
    assert csp["style-src"] == [_hash(style) for style in styles]
    assert csp["default-src"] == ["'none'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["form-action"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


def test_the_page_loads_nothing_from_elsewhere_and_has_no_inline_handlers(api: Any) -> None:
    html = _get(api).body.decode()

    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handlers would need 'unsafe-hashes'"
    assert " style=" not in html, "inline style attributes would need 'unsafe-hashes'"
    assert len(re.findall(r"<script", html)) == 1


def test_the_page_holds_no_secret(api: Any) -> None:
    html = _get(api).body.decode()

    assert API_KEY not in html
    assert WEBHOOK_SECRET not in html
    assert "evolution-global-key" not in html


@pytest.mark.parametrize(
    "piece",
    [
        'id="api-key"',
        'type="password"',
        "sessionStorage",
        "Forget key",
        '"Authorization": "Bearer " + key',
        'method: "POST"',
        '"/connect"',
        'id="qr"',
        "data.qr_code",
        "data.pairing_code",
        'data.state === "open"',
        "Waiting for a QR code…",
        '"Connected"',
        "That API key was not accepted.",
        "Evolution is unavailable",
        "Cannot reach the service",
        "body.Message",
        'get("phone")',
        "REFRESH_MS",
    ],
)
def test_the_page_has_its_pieces(api: Any, piece: str) -> None:
    assert piece in _get(api).body.decode()


def test_the_key_is_never_put_in_local_storage_or_the_url(api: Any) -> None:
    html = _get(api).body.decode()

    assert "localStorage" not in html
    assert "document.cookie" not in html
    assert "?key=" not in html


def test_the_page_is_read_once_per_process() -> None:
    from chalicelib.routes import qr

    qr.page.cache_clear()
    first = qr.page()
    assert qr.page() is first
    assert qr.page.cache_info().misses == 1


def test_a_page_without_an_inline_script_is_refused() -> None:
    from chalicelib.routes import qr

    with pytest.raises(ValueError, match="no inline <script>"):
        qr.content_security_policy("<html><style>p{}</style></html>")
