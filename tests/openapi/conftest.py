"""The OpenAPI document as the app serves it, and a checker of real responses against it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import REPO

DOCUMENT = REPO / "docs" / "openapi.json"


def built_document() -> dict[str, Any]:
    """The document generated from the app's current routes and models."""
    from app import app
    from chalicelib.openapi import build_document

    return build_document(app.routes)


def check_response(document: dict[str, Any], method: str, path: str, response: Any) -> Any:
    """Fail unless ``response`` (a chalice test-client response) is what the document promises for
    ``method path``: a documented status, its required headers, a body valid against its schema.
    Returns the parsed body."""
    import jsonschema

    operation = document["paths"][path][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path} answered undocumented {status}"
    documented = operation["responses"][status]
    headers = {name.lower(): value for name, value in response.headers.items()}
    for name, header in documented.get("headers", {}).items():
        if header.get("required"):
            assert name.lower() in headers, f"{method} {path} {status}: no {name} header"
        if name.lower() in headers:
            jsonschema.validate(headers[name.lower()], header["schema"])
    (media_type, content), *_ = documented["content"].items()
    if media_type != "application/json":
        assert headers.get("content-type", "").startswith(media_type)
        return response.body.decode()
    body = json.loads(response.body)
    schema = {**content["schema"], "components": document["components"]}
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(body)
    return body


@pytest.fixture(scope="session")
def document() -> dict[str, Any]:
    return built_document()
