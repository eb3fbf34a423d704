"""Routes for the template registry: list, read one, preview (no sending)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib import errors
from chalicelib.models.api import PreviewRequest
from chalicelib.openapi import Operation, documented
from chalicelib.routes._http import api_view, parse_model, read_json
from chalicelib.routes.auth import api_key_auth

bp = Blueprint(__name__)

# How a template's language is chosen (chalicelib/services/templates.py), for both template routes.
LANGUAGE_FALLBACK = (
    "`language` is optional; without it the template's default language is used. A well-formed code "
    "(`es`, `es-MX`, `ES_mx`) picks that language's body, else its primary language's (`es_MX` → `es`), "
    "else **falls back to the template's default language without an error**: the answer's "
    "`template.language` (a send) or `language` (a preview) says which body was used. A malformed "
    "code is a 422 `TemplateError`."
)


@bp.route("/templates", methods=["GET"], authorizer=api_key_auth)
@documented(Operation("List the templates", "templates", {200: "responses.TemplateList"}))
@api_view
def list_templates() -> dict[str, Any]:
    from chalicelib.services import templates  # noqa: PLC0415 - loads the registry on first use

    return {"templates": templates.list_templates()}


@bp.route("/templates/{name}", methods=["GET"], authorizer=api_key_auth)
@documented(Operation("One template", "templates", {200: "responses.TemplateOut"}, (errors.NotFoundError,)))
@api_view
def get_template(name: str) -> dict[str, Any]:
    from chalicelib.services import templates  # noqa: PLC0415

    return templates.get_template(name)


@bp.route("/templates/{name}/preview", methods=["POST"], authorizer=api_key_auth)
@documented(
    Operation(
        "Render a template without sending it",
        "templates",
        {200: "responses.PreviewOut"},
        (errors.BadRequestError, errors.ValidationError, errors.NotFoundError, errors.TemplateError),
        request=PreviewRequest,
        body_required=False,
        description=LANGUAGE_FALLBACK,
    )
)
@api_view
def preview_template(name: str) -> dict[str, Any]:
    from chalicelib.services import templates  # noqa: PLC0415

    body = parse_model(PreviewRequest, read_json(bp.current_request.raw_body, required=False))
    result: dict[str, Any] = templates.preview(name, body.language, body.variables)
    return result
