"""Stored limits through the HTTP API, on both stores: page bytes, clipped texts, numbers DynamoDB
cannot hold, over-long ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from responses import RequestsMock

from chalicelib import limits
from chalicelib.services import webhook_limits
from tests.conftest import EVOLUTION_URL, INSTANCE, REPO, WEBHOOK_SECRET, auth, load_webhook

HOOK_HEADERS = {"X-Webhook-Secret": WEBHOOK_SECRET, "Content-Type": "application/json"}
TABLE = "limits-test"


@pytest.fixture(params=["sqlite", "dynamodb"])
def stored_api(
    request: pytest.FixtureRequest, service_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The app through ``chalice.test.Client``, on SQLite and on DynamoDB (moto)."""
    from chalice.test import Client

    from app import app
    from chalicelib import deps

    if request.param == "sqlite":
        with Client(app, stage_name="dev", project_dir=str(REPO)) as client:
            yield client
        return
    import boto3
    from moto import mock_aws

    from chalicelib.store.dynamodb import TABLE_DEFINITION

    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "STORE_URL": f"dynamodb://{TABLE}",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    deps.reset()
    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(TableName=TABLE, **TABLE_DEFINITION)
        with Client(app, stage_name="dev", project_dir=str(REPO)) as client:
            yield client
    deps.reset()


def _json(response: Any) -> Any:
    return json.loads(response.body)


def _upsert(n: int, **message: Any) -> dict[str, Any]:
    body = load_webhook("messages.upsert.image" if "imageMessage" in message else "messages.upsert.text")
    body["instance"] = INSTANCE
    body["data"]["key"]["id"] = f"3EB0LIMIT{n:04d}"
    body["data"]["messageTimestamp"] = 1_765_377_000 + n
    if message:
        body["data"]["message"] = message
    return body


def _hook(api: Any, body: dict[str, Any]) -> Any:
    return api.http.post("/webhook", headers=HOOK_HEADERS, body=json.dumps(body).encode())


def _list(api: Any, **query: Any) -> Any:
    return api.http.get("/messages?" + urlencode(query), headers=auth())


def test_twenty_texts_of_65536_characters_page_in_bytes_and_each_comes_once(stored_api: Any) -> None:
    alphabets = ["a", "é", "😀", "ß"]  # ASCII, and three ways JSON escapes grow (6 and 12 bytes a character)
    for n in range(20):
        text = alphabets[n % 4] * webhook_limits.MAX_TEXT_CHARS
        response = _hook(stored_api, _upsert(n, conversation=text))
        assert response.status_code == 200, response.body[:200]
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        response = _list(stored_api, limit=100, **({"after": after} if after else {}))
        assert response.status_code == 200
        assert len(response.body) <= limits.PAGE_BYTES
        page = _json(response)
        assert page["items"], "a page is never empty while records remain"
        seen += [item["id"] for item in page["items"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
    assert len(seen) == 20 and len(set(seen)) == 20
    assert seen == sorted(seen, reverse=True)  # newest first, across the cut pages
    assert pages > 5  # the byte budget, not the count of 100, cut them


def test_a_page_under_the_byte_budget_is_cut_by_count_as_before(stored_api: Any) -> None:
    for n in range(3):
        assert _hook(stored_api, _upsert(n, conversation=f"hola {n}")).status_code == 200
    first = _json(_list(stored_api, limit=2))
    assert len(first["items"]) == 2 and first["next"]
    rest = _json(_list(stored_api, limit=2, after=first["next"]))
    assert len(rest["items"]) == 1 and rest["next"] is None


def test_an_inbound_text_over_65536_characters_is_stored_clipped(stored_api: Any) -> None:
    assert _hook(stored_api, _upsert(1, conversation="z" * 200_000)).status_code == 200
    (item,) = _json(_list(stored_api))["items"]
    assert len(item["text"]) == webhook_limits.MAX_TEXT_CHARS
    assert item["text"].endswith("…")


def test_absurd_numbers_and_sizes_in_a_webhook_are_dropped_and_the_message_is_stored(stored_api: Any) -> None:
    image = {
        "url": "https://mmg.whatsapp.net/x",
        "mimetype": "image/jpeg",
        "caption": "c" * 100_000,
        "fileLength": 1e300,
        "seconds": -5,
        "height": 10**40,
        "width": "999999999999999999999",
        "fileName": "f" * 10_000,
    }
    assert _hook(stored_api, _upsert(1, imageMessage=image)).status_code == 200
    location = {"degreesLatitude": 1e-300, "degreesLongitude": 1e300, "name": "n" * 5000}
    body = _upsert(2, locationMessage=location)
    body["data"]["pushName"] = "p" * 100_000
    assert _hook(stored_api, body).status_code == 200
    located, pictured = _json(_list(stored_api))["items"]
    assert located["location"] == {"latitude": 0.0, "name": "n" * 255 + "…"}
    assert len(located["push_name"]) == webhook_limits.MAX_NAME_CHARS
    assert pictured["media"] == {"mimetype": "image/jpeg", "file_name": "f" * 255 + "…", "stored": False}
    assert len(pictured["caption"]) == webhook_limits.MAX_CAPTION_CHARS


@pytest.mark.parametrize("field", ["id", "remoteJid"])
def test_a_webhook_with_an_over_long_id_is_refused_and_nothing_is_stored(stored_api: Any, field: str) -> None:
    body = _upsert(1)
    body["data"]["key"][field] = "9" * 300 + ("@s.whatsapp.net" if field == "remoteJid" else "")
    response = _hook(stored_api, body)
    assert response.status_code == 400
    assert _json(response)["Details"][0]["loc"] == ["data", "key", field]
    assert _json(_list(stored_api))["items"] == []


def test_a_status_update_for_an_over_long_id_is_refused(stored_api: Any) -> None:
    body = load_webhook("messages.update.read")
    body["instance"] = INSTANCE
    body["data"]["keyId"] = "K" * 5000
    response = _hook(stored_api, body)
    assert response.status_code == 400
    assert _json(response)["Details"][0]["loc"] == ["data", "keyId"]


def test_a_location_of_1e_minus_300_is_sent_and_stored_rounded(
    stored_api: Any, evolution: RequestsMock
) -> None:
    sent = {
        "key": {"remoteJid": "5511999999999@s.whatsapp.net", "fromMe": True, "id": "3EB0LOC1"},
        "status": "PENDING",
        "messageType": "locationMessage",
        "messageTimestamp": 1765377525,
    }
    evolution.post(f"{EVOLUTION_URL}/message/sendLocation/{INSTANCE}", status=201, json=sent)
    body = {"to": "+5511999999999", "location": {"latitude": 1e-300, "longitude": -46.123456789}}
    response = stored_api.http.post("/messages", headers=auth(), body=json.dumps(body).encode())
    assert response.status_code == 201, response.body
    assert json.loads(evolution.calls[0].request.body)["latitude"] == 0.0
    assert json.loads(evolution.calls[0].request.body)["longitude"] == -46.1234568
    record = _json(stored_api.http.get(f"/messages/{_json(response)['id']}", headers=auth()))
    assert record["location"]["latitude"] == 0.0
    assert record["location"]["longitude"] == -46.1234568
