"""The OpenAPI document: generated, served, committed, valid, and covering every route."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.openapi import Operation, build_document, documented, render
from tests.conftest import auth
from tests.openapi.conftest import DOCUMENT, built_document

STALE = "docs/openapi.json is stale: run `make openapi` and commit the result."


def _served(api: Any) -> Any:
    response = api.http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-Id"]
    return json.loads(response.body)


def test_the_committed_document_is_the_generated_one_byte_for_byte() -> None:
    assert DOCUMENT.exists(), STALE
    assert DOCUMENT.read_text(encoding="utf-8") == render(built_document()), STALE


def test_the_served_document_equals_the_committed_one(api: Any) -> None:
    assert _served(api) == json.loads(DOCUMENT.read_text(encoding="utf-8")), STALE


def test_the_document_is_public_and_built_once_per_process(api: Any) -> None:
    from chalicelib.routes import docs

    first = api.http.get("/openapi.json", headers={"Authorization": "Bearer not-a-key"})
    assert first.status_code == 200
    assert docs.document() is docs.document()
    assert docs.document.cache_info().currsize == 1


def test_every_route_is_documented_and_every_documented_path_is_a_route(document: dict[str, Any]) -> None:
    from app import app

    routes = {(m, p) for p, methods in app.routes.items() for m in methods if m != "OPTIONS"}
    documented = {(m.upper(), p) for p, item in document["paths"].items() for m in item}
    assert routes == documented
    undocumented = sorted(
        f"{m.upper()} {p}"
        for p, item in document["paths"].items()
        for m, op in item.items()
        if op.get("x-undocumented")
    )
    assert not undocumented, f"give these views an Operation (chalicelib.openapi.documented): {undocumented}"


@dataclass
class FakeRoute:
    """The parts of a chalice RouteEntry the builder reads."""

    view_function: Any
    view_name: str
    view_args: tuple[str, ...] = ()
    authorizer: object | None = None


def test_a_view_without_an_operation_is_listed_as_undocumented_and_one_with_is_documented() -> None:
    @documented(Operation("Count things", "meta", {200: "responses.StatusBody"}))
    def counted() -> None: ...

    def forgotten() -> None: ...

    document = build_document(
        {
            "/count": {"GET": FakeRoute(counted, "counted")},
            "/forgotten": {"GET": FakeRoute(forgotten, "forgotten")},
        }
    )

    assert document["paths"]["/forgotten"]["get"]["x-undocumented"] is True
    counted_op = document["paths"]["/count"]["get"]
    assert counted_op["summary"] == "Count things" and "x-undocumented" not in counted_op
    assert counted_op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StatusBody"
    }


def test_a_model_name_that_names_no_model_fails_the_build() -> None:
    @documented(Operation("Broken", "meta", {200: "responses.NoSuchBody"}))
    def broken() -> None: ...

    with pytest.raises(LookupError, match="NoSuchBody"):
        build_document({"/broken": {"GET": FakeRoute(broken, "broken")}})


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate

    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_protected_routes_need_the_bearer_key_and_public_ones_do_not(document: dict[str, Any]) -> None:
    from app import app

    for path, methods in app.routes.items():
        for method, entry in methods.items():
            operation = document["paths"][path][method.lower()]
            if entry.authorizer is not None:
                assert operation["security"] == [{"ApiKey": []}], path
                assert {"401", "403"} <= set(operation["responses"]), path
            else:
                assert {"ApiKey": []} not in operation["security"], path
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <api key>`.",
    }
    webhook = document["paths"]["/webhook"]["post"]
    assert {name for option in webhook["security"] for name in option} == {
        "WebhookSecret",
        "WebhookToken",
        "WebhookJwt",
    }


def test_every_response_of_the_service_documents_x_request_id(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status in ("401", "403") and operation["security"] == [{"ApiKey": []}]:
                    continue  # API Gateway's own answers: the service never sees the request
                assert response["headers"]["X-Request-Id"]["required"] is True, (method, path, status)


def test_the_statuses_of_api_md_are_documented_where_they_apply(document: dict[str, Any]) -> None:
    def statuses(method: str, path: str) -> set[str]:
        return set(document["paths"][path][method]["responses"])

    upstream = {"404", "429", "502", "503", "504"}
    assert statuses("get", "/health") == {"200", "503"}
    assert statuses("get", "/status") == {"200", "401", "403"} | upstream
    assert statuses("post", "/connect") == {"200", "400", "401", "403", "415"} | upstream
    assert statuses("post", "/disconnect") == {"200", "400", "401", "403", "415"} | upstream
    send = {"201", "400", "401", "403", "404", "409", "415", "422"} | upstream
    assert statuses("post", "/messages") == send
    assert statuses("post", "/messages/template") == send
    assert statuses("get", "/messages") == {"200", "400", "401", "403", "503"}
    assert statuses("get", "/messages/{message_id}") == {"200", "401", "403", "404", "503"}
    assert statuses("get", "/templates") == {"200", "401", "403", "503"}
    assert statuses("get", "/templates/{name}") == {"200", "401", "403", "404", "503"}
    assert statuses("post", "/templates/{name}/preview") == {
        "200",
        "400",
        "401",
        "403",
        "404",
        "415",
        "422",
        "503",
    }
    for path in ("/webhook", "/webhook/{event}"):
        assert statuses("post", path) == {"200", "400", "401", "415", "503"}
    assert statuses("get", "/openapi.json") == {"200", "503"}


def test_every_operation_documents_the_503_of_a_misconfigured_service(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "`ServiceMisconfigured`" in operation["responses"]["503"]["description"], (method, path)


def test_error_responses_use_the_error_body_and_name_their_codes(document: dict[str, Any]) -> None:
    send = document["paths"]["/messages/template"]["post"]["responses"]
    assert send["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert "`TemplateNotSupported`" in send["409"]["description"]
    assert "`IdempotencyKeyInUse`" in send["409"]["description"]
    assert {"`TemplateError`", "`IdempotencyKeyReused`", "`RecipientNotOnWhatsApp`"} <= {
        word.rstrip(":") for word in send["422"]["description"].split()
    }
    error = document["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["Code", "Message"]
    assert set(error["properties"]) == {"Code", "Message", "Details"}


def test_retry_after_and_idempotency_headers_are_documented(document: dict[str, Any]) -> None:
    send = document["paths"]["/messages"]["post"]
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= next(
        p for p in send["parameters"] if p["name"] == "Idempotency-Key"
    ).items()
    assert send["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert send["responses"]["503"]["headers"]["Retry-After"]["required"] is False
    for status in ("201", "422", "502", "504"):
        assert "Idempotent-Replayed" in send["responses"][status]["headers"], status
    assert "Idempotent-Replayed" not in send["responses"]["400"]["headers"]
    assert "Idempotency-Key" not in {p["name"] for p in document["paths"]["/messages"]["get"]["parameters"]}


def test_list_messages_documents_its_query_parameters(document: dict[str, Any]) -> None:
    params = {p["name"]: p for p in document["paths"]["/messages"]["get"]["parameters"]}
    assert set(params) == {"direction", "status", "after", "limit"}
    assert all(p["in"] == "query" and p["required"] is False for p in params.values())
    assert params["direction"]["schema"]["enum"] == ["inbound", "outbound"]
    assert set(params["status"]["schema"]["enum"]) == {
        "unknown",
        "pending",
        "sent",
        "failed",
        "delivered",
        "read",
        "played",
    }
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}


def test_path_parameters_come_from_the_route_table(document: dict[str, Any]) -> None:
    get_message = document["paths"]["/messages/{message_id}"]["get"]
    assert [(p["name"], p["in"], p["required"]) for p in get_message["parameters"]] == [
        ("message_id", "path", True)
    ]


def test_the_served_document_needs_no_auth_header_and_says_how_long_to_cache(api: Any) -> None:
    response = api.http.get("/openapi.json", headers=auth())
    assert response.headers["Cache-Control"] == "public, max-age=300"


def test_the_template_routes_document_the_language_fallback(document: dict[str, Any]) -> None:
    for path in ("/messages/template", "/templates/{name}/preview"):
        operation = document["paths"][path]["post"]
        assert "falls back to the template's default language" in operation["description"], path
        schema = document["components"]["schemas"][
            operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        ]
        assert "falls back" in schema["properties"]["language"]["description"]
