"""``GET /connect/qr``: the public page a person links the WhatsApp session with (holds no secret)."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

from chalice.app import Blueprint, Response

from chalicelib.deps import on_reset
from chalicelib.openapi import Operation, documented
from chalicelib.openapi.operation import HTML
from chalicelib.routes._http import api_view

bp = Blueprint(__name__)

PAGE = Path(__file__).resolve().parents[1] / "static" / "connect_qr.html"
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def _sha256_source(text: str) -> str:
    """A CSP hash source for one inline block, exactly as the browser hashes it."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(html: str) -> str:
    """Nothing from elsewhere: only this page's own inline script and style (by hash), data: images
    (the QR) and requests back to this service."""
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for tag, body in _INLINE.findall(html):
        hashes[tag].append(_sha256_source(body))
    if not hashes["script"]:
        raise ValueError(f"{PAGE.name} has no inline <script> to allow")
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(hashes["script"]),
            "style-src " + (" ".join(hashes["style"]) or "'none'"),
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def page_headers(html: str) -> dict[str, str]:
    """The headers every static page of the service is served with: no caching, no framing, a CSP
    that allows only the page's own inline script and style."""
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Content-Security-Policy": content_security_policy(html),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }


@cache
def page() -> tuple[str, dict[str, str]]:
    """The page and its headers, read and hashed once per process, on the first request."""
    html = PAGE.read_text(encoding="utf-8")
    return html, page_headers(html)


on_reset(page.cache_clear)


@bp.route("/connect/qr", methods=["GET"])
@documented(
    Operation("A page a person links the WhatsApp session with", "session", {200: None}, media_type=HTML)
)
@api_view
def connect_qr() -> Response:
    html, headers = page()
    return Response(body=html, status_code=200, headers=dict(headers))
