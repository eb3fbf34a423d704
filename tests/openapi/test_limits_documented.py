"""The OpenAPI document states the hard limits the routes enforce, from the same constants."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import limits


@pytest.mark.parametrize(
    ("path", "method", "size"),
    [
        ("/messages", "post", limits.SEND_BODY_BYTES),
        ("/messages/template", "post", limits.SEND_BODY_BYTES),
        ("/webhook", "post", limits.WEBHOOK_BODY_BYTES),
        ("/webhook/{event}", "post", limits.WEBHOOK_BODY_BYTES),
        ("/connect", "post", limits.SMALL_BODY_BYTES),
        ("/templates/{name}/preview", "post", limits.SMALL_BODY_BYTES),
    ],
)
def test_each_request_body_states_its_size_and_nesting_limits(
    document: dict[str, Any], path: str, method: str, size: int
) -> None:
    described = document["paths"][path][method]["requestBody"]["description"]
    assert f"at most {size:,} bytes" in described
    assert f"at most {limits.MAX_JSON_DEPTH} levels" in described


def test_the_list_route_states_its_page_byte_budget(document: dict[str, Any]) -> None:
    assert "at most 1 MB of JSON" in document["paths"]["/messages"]["get"]["description"]


def test_the_media_url_and_the_webhook_jwt_rules_are_stated(document: dict[str, Any]) -> None:
    url = document["components"]["schemas"]["MediaIn"]["properties"]["url"]["description"]
    assert "loopback, private or link-local" in url
    jwt = document["components"]["securitySchemes"]["WebhookJwt"]["description"]
    assert "iat" in jwt and "at most 15 minutes after iat" in jwt


def test_the_error_caps_are_stated(document: dict[str, Any]) -> None:
    assert f"at most {limits.MAX_DETAILS} entries" in document["info"]["description"]
