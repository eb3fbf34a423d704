"""Hard limits at the HTTP edge, on every JSON route: nesting, body sizes, odd query values, echoes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib import limits
from tests.conftest import INSTANCE, WEBHOOK_SECRET, auth, load_webhook

DEEP = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
DEEP_LIST = b"[" * 10_000 + b"]" * 10_000
HOOK_HEADERS = {"X-Webhook-Secret": WEBHOOK_SECRET, "Content-Type": "application/json"}
JSON_ROUTES = [
    ("/messages", auth()),
    ("/messages/template", auth()),
    ("/connect", auth()),
    ("/disconnect", auth()),
    ("/templates/interview_reminder/preview", auth()),
    ("/webhook", HOOK_HEADERS),
    ("/webhook/messages-upsert", HOOK_HEADERS),
]


def _json(response: Any) -> Any:
    return json.loads(response.body)


def _upsert(text: str) -> dict[str, Any]:
    body = load_webhook("messages.upsert.text")
    body["instance"] = INSTANCE
    body["data"]["message"] = {"conversation": text}
    return body


@pytest.mark.parametrize(("path", "headers"), JSON_ROUTES)
@pytest.mark.parametrize("raw", [DEEP, DEEP_LIST], ids=["objects", "arrays"])
def test_ten_thousand_levels_of_nesting_are_a_400_on_every_json_route(
    api: Any, path: str, headers: dict[str, str], raw: bytes
) -> None:
    response = api.http.post(path, headers=headers, body=raw)
    assert response.status_code == 400
    body = _json(response)
    assert body["Code"] == "BadRequestError"
    assert f"more than {limits.MAX_JSON_DEPTH} levels" in body["Message"]


@pytest.mark.parametrize(("path", "headers"), [r for r in JSON_ROUTES if r[0] != "/disconnect"])
def test_nesting_within_the_limit_reaches_validation(api: Any, path: str, headers: dict[str, str]) -> None:
    raw = b'{"x":' * (limits.MAX_JSON_DEPTH - 1) + b"1" + b"}" * (limits.MAX_JSON_DEPTH - 1)
    response = api.http.post(path, headers=headers, body=raw)
    assert response.status_code == 400
    assert _json(response)["Code"] == "ValidationError"  # parsed, then refused as not a valid body


@pytest.mark.parametrize(("path", "headers"), JSON_ROUTES)
@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": 1e999}'])
def test_non_finite_numbers_are_refused_as_not_json(
    api: Any, path: str, headers: dict[str, str], raw: bytes
) -> None:
    response = api.http.post(path, headers=headers, body=raw)
    assert response.status_code == 400
    assert _json(response)["Code"] == "BadRequestError"


def test_a_seven_megabyte_webhook_is_refused_and_not_stored(api: Any) -> None:
    big = _upsert("x" * (7 * limits.MB))
    response = api.http.post("/webhook", headers=HOOK_HEADERS, body=json.dumps(big).encode())
    assert response.status_code == 400  # a 4xx Evolution does not retry: retrying cannot help
    assert _json(response)["Details"] == [{"loc": ["body"], "msg": f"over {limits.WEBHOOK_BODY_BYTES} bytes"}]
    listed = _json(api.http.get("/messages", headers=auth()))
    assert listed["items"] == []


def test_a_webhook_just_under_the_limit_is_accepted(api: Any) -> None:
    text = "y" * (limits.WEBHOOK_BODY_BYTES - 4096)
    response = api.http.post("/webhook", headers=HOOK_HEADERS, body=json.dumps(_upsert(text)).encode())
    assert response.status_code == 200, response.body[:300]
    assert _json(response)["duplicate"] is False


@pytest.mark.parametrize(
    "path", ["/connect", "/disconnect", "/templates/interview_reminder/preview"], ids=str
)
def test_small_routes_refuse_bodies_over_their_limit(api: Any, path: str) -> None:
    raw = json.dumps({"pad": "z" * limits.SMALL_BODY_BYTES}).encode()
    response = api.http.post(path, headers=auth(), body=raw)
    assert response.status_code == 400
    assert _json(response)["Details"] == [{"loc": ["body"], "msg": f"over {limits.SMALL_BODY_BYTES} bytes"}]


def test_a_send_over_the_lambda_limit_is_refused_before_anything_else(api: Any) -> None:
    raw = json.dumps({"to": "+5511999999999", "text": "q" * (limits.SEND_BODY_BYTES + 1)}).encode()
    response = api.http.post("/messages", headers=auth(), body=raw)
    assert response.status_code == 400
    assert _json(response)["Details"][0]["loc"] == ["body"]


@pytest.mark.parametrize(
    "value",
    ["²", "٣", "３", "", "-1", "0", "101", "1e2", "1.5", " 5", "9" * 40, "0x10", "½", "NaN"],
)
def test_odd_limit_values_are_a_400_never_a_500(api: Any, value: str) -> None:
    response = api.http.get("/messages?" + urlencode({"limit": value}), headers=auth())
    assert response.status_code == 400, response.body
    body = _json(response)
    assert body["Code"] == "ValidationError"
    assert any("limit" in d["loc"] for d in body["Details"])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("after", "%%%"),
        ("after", "x" * 600),
        ("after", "eyJ2IjoyfQ"),
        ("direction", "ⅰnbound"),
        ("status", "réad"),
    ],
)
def test_odd_query_values_are_a_400(api: Any, name: str, value: str) -> None:
    response = api.http.get("/messages?" + urlencode({name: value}), headers=auth())
    assert response.status_code == 400, response.body
    assert _json(response)["Code"] == "ValidationError"


def test_a_one_megabyte_field_name_is_never_reflected_back(api: Any) -> None:
    name = "n" * limits.MB
    raw = json.dumps({"to": "+5511999999999", "text": "hi", name: 1}).encode()
    response = api.http.post("/messages", headers=auth(), body=raw)
    assert response.status_code == 400
    assert len(response.body) < 2048
    assert name[:100] not in response.body.decode()


def test_a_one_megabyte_query_parameter_name_is_never_reflected_back(api: Any) -> None:
    name = "q" * limits.MB
    response = api.http.get("/messages?" + urlencode({name: "1"}), headers=auth())
    assert response.status_code == 400
    assert len(response.body) < 2048


def test_thousands_of_problems_give_a_bounded_answer(api: Any) -> None:
    raw = json.dumps({"to": "+5511999999999", "text": "hi", **{f"extra{i}": i for i in range(5000)}}).encode()
    response = api.http.post("/messages", headers=auth(), body=raw)
    assert response.status_code == 400
    details = _json(response)["Details"]
    assert len(details) == limits.MAX_DETAILS + 1
    assert details[-1]["msg"].endswith("more problems")
