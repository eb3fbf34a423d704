"""Media routes through the app: an inbound document is fetched on arrival by the local worker,
listed stored, linked by GET /messages/{id}/media and downloaded by that signed, public link."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from chalicelib.media.signing import signature
from chalicelib.settings import get_settings
from tests.conftest import EVOLUTION_URL, INSTANCE, WEBHOOK_SECRET, auth, load_webhook

MEDIA_URL = f"{EVOLUTION_URL}/chat/getBase64FromMediaMessage/{INSTANCE}"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 64
WA_ID = "3EB0BD277A5B09AE1BB9DF"  # the document fixture's key.id


def media_answer(data: bytes = PDF, mimetype: str = "application/pdf") -> dict[str, Any]:
    return {
        "mediaType": "documentMessage",
        "fileName": "orcamento-2025.pdf",
        "caption": None,
        "size": {"fileLength": str(len(data))},
        "mimetype": mimetype,
        "base64": base64.b64encode(data).decode(),
        "buffer": None,
    }


def document_webhook(**changes: Any) -> bytes:
    body = load_webhook("messages.upsert.document")
    body["instance"] = INSTANCE
    body["data"].update(changes)
    return json.dumps(body).encode()


def hook(api: Any, raw: bytes) -> None:
    headers = {"Content-Type": "application/json", "X-Webhook-Secret": WEBHOOK_SECRET}
    response = api.http.post("/webhook", headers=headers, body=raw)
    assert response.status_code == 200, response.body


def record(api: Any, lookup: str = WA_ID) -> dict[str, Any]:
    response = api.http.get(f"/messages/{lookup}", headers=auth())
    assert response.status_code == 200, response.body
    found: dict[str, Any] = json.loads(response.body)
    return found


def settled(api: Any, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = record(api)
        if found["media"]["stored"] or "error" in found["media"] or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def evolution_media() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def test_an_inbound_document_is_fetched_on_arrival_listed_stored_and_downloaded_by_its_link(
    api: Any, evolution_media: responses.RequestsMock, service_env: Path
) -> None:
    evolution_media.post(MEDIA_URL, json=media_answer(), status=201)

    hook(api, document_webhook())
    found = settled(api)

    assert len(evolution_media.calls) == 1  # on arrival, before anyone asked for it
    assert json.loads(evolution_media.calls[0].request.body or b"") == {
        "message": {"key": {"id": WA_ID}},
        "convertToMp4": False,
    }
    assert found["media"]["stored"] is True
    assert found["media"]["size"] == len(PDF)
    assert found["media"]["sha256"] == hashlib.sha256(PDF).hexdigest()
    listed = json.loads(api.http.get("/messages?direction=inbound", headers=auth()).body)["items"]
    assert listed[0]["media"]["stored"] is True

    link = api.http.get(f"/messages/{found['id']}/media", headers=auth())
    assert link.status_code == 200, link.body
    body = json.loads(link.body)
    assert body["url"].startswith(f"https://service.test/media/{found['id']}?expires=")
    assert body["mimetype"] == "application/pdf" and body["filename"] == "orcamento-2025.pdf"
    assert body["size"] == len(PDF) and body["sha256"] == found["media"]["sha256"]

    download = api.http.get(local_path(body["url"]), headers={"Accept": "*/*"})  # no API key (curl's Accept)
    assert download.status_code == 200
    assert download.body == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith('attachment; filename="orcamento-2025.pdf"')
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert len(evolution_media.calls) == 1  # served from the store, not fetched again
    assert (service_env / ".data" / "media" / INSTANCE / found["id"]).read_bytes() == PDF


def test_message_received_goes_out_once_when_the_media_is_stored(
    api: Any, evolution_media: responses.RequestsMock
) -> None:
    from chalicelib.deps import get_store

    evolution_media.post(MEDIA_URL, json=media_answer(), status=201)
    hook(api, document_webhook())
    hook(api, document_webhook())  # a re-delivery
    settled(api)

    events = get_store().events_since(INSTANCE, "evt_", limit=100)
    received = [e for e in events if e.type == "message.received"]
    assert len(received) == 1
    assert received[0].data["media"]["stored"] is True


def test_the_link_fetches_media_not_stored_yet_and_answers_502_when_evolution_cannot(
    api: Any, evolution_media: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import deps

    monkeypatch.setenv("LOCAL_WORKER", "false")  # nothing in the background: only this request fetches
    deps.reset()
    gone = {"status": 400, "error": "Bad Request", "response": {"message": ["Message not found"]}}
    evolution_media.post(MEDIA_URL, json=gone, status=400)
    evolution_media.post(MEDIA_URL, json=media_answer(), status=201)
    hook(api, document_webhook())
    found = record(api)
    assert found["media"]["stored"] is False

    refused = api.http.get(f"/messages/{found['id']}/media", headers=auth())
    fetched = api.http.get(f"/messages/{WA_ID}/media", headers=auth())

    assert refused.status_code == 502
    assert json.loads(refused.body)["Code"] == "MediaUnavailable"
    assert fetched.status_code == 200
    assert record(api)["media"]["stored"] is True


def test_a_message_without_media_or_an_unknown_one_is_404(api: Any) -> None:
    body = load_webhook("messages.upsert.text")
    body["instance"] = INSTANCE
    hook(api, json.dumps(body).encode())
    text_id = json.loads(api.http.get("/messages", headers=auth()).body)["items"][0]["id"]

    for lookup in (text_id, "msg_01KB0000000000000000000000", "x" * 129):
        response = api.http.get(f"/messages/{lookup}/media", headers=auth())
        assert response.status_code == 404, lookup
        assert json.loads(response.body)["Code"] == "NotFoundError"
    assert api.http.get(f"/messages/{text_id}/media").status_code == 401


def test_tampered_expired_and_foreign_links_are_refused(
    api: Any, evolution_media: responses.RequestsMock
) -> None:
    evolution_media.post(MEDIA_URL, json=media_answer(), status=201)
    hook(api, document_webhook())
    media_id = settled(api)["id"]
    url = json.loads(api.http.get(f"/messages/{media_id}/media", headers=auth()).body)["url"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    key = get_settings().media_url_key()
    past = int(time.time()) - 1
    later = int(query["expires"]) + 3600

    refused = [
        f"/media/{media_id}?expires={query['expires']}&signature={'0' * 64}",
        f"/media/{media_id}?expires={later}&signature={query['signature']}",  # stretched
        f"/media/{media_id}?expires={past}&signature={signature(key, media_id, past)}",  # expired
        f"/media/msg_01KB0000000000000000000000?expires={query['expires']}&signature={query['signature']}",
        f"/media/{media_id}",
        f"/media/{media_id}?expires=soon&signature=x",
    ]
    for path in refused:
        response = api.http.get(path)
        assert response.status_code == 403, path
        assert json.loads(response.body)["Code"] == "Forbidden"
    assert api.http.get(local_path(url), headers={"Accept": "*/*"}).status_code == 200


def test_a_validly_signed_link_to_nothing_stored_is_404(api: Any) -> None:
    key = get_settings().media_url_key()
    expires = int(time.time()) + 60
    media_id = "msg_01KB0000000000000000000000"

    response = api.http.get(
        f"/media/{media_id}?expires={expires}&signature={signature(key, media_id, expires)}"
    )

    assert response.status_code == 404


def test_a_file_over_media_max_bytes_is_refused_and_not_stored(
    api: Any, evolution_media: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, service_env: Path
) -> None:
    from chalicelib import deps

    monkeypatch.setenv("MEDIA_MAX_BYTES", "4096")
    deps.reset()
    evolution_media.post(MEDIA_URL, json=media_answer(), status=201)  # PDF is 16 KB

    hook(api, document_webhook())
    found = settled(api)

    assert found["media"]["stored"] is False and "over" in found["media"]["error"]
    assert not (service_env / ".data" / "media" / INSTANCE / found["id"]).exists()
    refused = api.http.get(f"/messages/{found['id']}/media", headers=auth())
    assert refused.status_code == 502
