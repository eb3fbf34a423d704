"""``GET /openapi.json`` (public): the OpenAPI 3.1 document, generated once per process."""

from __future__ import annotations

from functools import cache
from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.deps import on_reset
from chalicelib.openapi import Operation, documented
from chalicelib.routes._http import api_view, json_response

bp = Blueprint(__name__)


@cache
def document() -> dict[str, Any]:
    """The document of the app this blueprint is registered on, built on the first request."""
    from chalicelib.openapi import build_document  # noqa: PLC0415 - the builder loads on demand

    return build_document(bp.current_app.routes)


on_reset(document.cache_clear)


@bp.route("/openapi.json", methods=["GET"])
@documented(Operation("This document", "meta", {200: None}))
@api_view
def openapi_document() -> Response:
    return json_response(document(), headers={"Cache-Control": "public, max-age=300"})
