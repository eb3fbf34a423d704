"""POST/GET /messages through the Chalice test client, Evolution mocked with ``responses``."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from responses import RequestsMock

from tests.conftest import EVOLUTION_URL, INSTANCE, auth, validate_evolution_body

SEND_TEXT = f"{EVOLUTION_URL}/message/sendText/{INSTANCE}"


def _sent(
    message_id: str = "3EB0C0BD05DCA97A7C09CB", jid: str = "5511999999999@s.whatsapp.net"
) -> dict[str, Any]:
    return {
        "key": {"remoteJid": jid, "fromMe": True, "id": message_id},
        "status": "PENDING",
        "message": {"conversation": "Hola"},
        "messageType": "conversation",
        "messageTimestamp": 1765377525,
    }


def _post(api: Any, body: Any, *, key: str | None = None, path: str = "/messages") -> Any:
    headers = auth()
    if key is not None:
        headers["Idempotency-Key"] = key
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.http.post(path, headers=headers, body=raw)


def _json(response: Any) -> Any:
    return json.loads(response.body)


def test_a_text_is_sent_recorded_and_readable_by_both_ids(api: Any, evolution: RequestsMock) -> None:
    evolution.post(SEND_TEXT, status=201, json=_sent())
    response = _post(api, {"to": "+55 11 99999-9999", "text": "Hola Ana", "reference": "crm-4711"})
    assert response.status_code == 201
    body = _json(response)
    validate_evolution_body("sendText", json.loads(evolution.calls[0].request.body))
    assert json.loads(evolution.calls[0].request.body) == {"number": "5511999999999", "text": "Hola Ana"}
    assert body["id"].startswith("msg_") and len(body["id"]) == 30
    assert body | {"id": "x", "created_at": "x"} == {
        "id": "x",
        "message_id": "3EB0C0BD05DCA97A7C09CB",
        "to": "+5511999999999",
        "jid": "5511999999999@s.whatsapp.net",
        "type": "text",
        "status": "pending",
        "reference": "crm-4711",
        "created_at": "x",
    }
    assert body["created_at"].endswith("Z")
    for lookup in (body["id"], body["message_id"]):
        record = _json(api.http.get(f"/messages/{lookup}", headers=auth()))
        assert record["id"] == body["id"]
        assert record["direction"] == "outbound"
        assert record["status_history"][0]["status"] == "pending"
        assert record["error"] is None


def test_an_unknown_message_id_is_404(api: Any) -> None:
    response = api.http.get("/messages/msg_01NOPE", headers=auth())
    assert response.status_code == 404
    assert _json(response)["Code"] == "NotFoundError"


def test_a_replay_with_the_same_key_returns_the_stored_answer_and_sends_nothing(
    api: Any, evolution: RequestsMock
) -> None:
    evolution.post(SEND_TEXT, status=201, json=_sent())
    body = {"to": "+5511999999999", "text": "Hola"}
    first = _post(api, body, key="order-1")
    second = _post(api, {"text": "Hola", "to": "+5511999999999"}, key="order-1")
    assert first.status_code == second.status_code == 201
    assert _json(first) == _json(second)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(evolution.calls) == 1


def test_the_same_key_with_a_different_body_is_422(api: Any, evolution: RequestsMock) -> None:
    evolution.post(SEND_TEXT, status=201, json=_sent())
    _post(api, {"to": "+5511999999999", "text": "Hola"}, key="order-2")
    response = _post(api, {"to": "+5511999999999", "text": "Adios"}, key="order-2")
    assert response.status_code == 422
    assert _json(response)["Code"] == "IdempotencyKeyReused"
    assert len(evolution.calls) == 1


def test_a_read_timeout_records_unknown_answers_504_and_the_key_keeps_that_answer(
    api: Any, evolution: RequestsMock
) -> None:
    evolution.post(SEND_TEXT, body=requests.exceptions.ReadTimeout("slow"))
    first = _post(api, {"to": "+5511999999999", "text": "Hola"}, key="order-3")
    assert first.status_code == 504
    payload = _json(first)
    assert payload["Code"] == "UpstreamTimeout"
    assert "may or may not have been sent" in payload["Message"]
    record_id = payload["Details"][0]["id"]
    record = _json(api.http.get(f"/messages/{record_id}", headers=auth()))
    assert record["status"] == "unknown"
    again = _post(api, {"to": "+5511999999999", "text": "Hola"}, key="order-3")
    assert again.status_code == 504
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(evolution.calls) == 1, "no blind re-send"


def test_a_connect_error_releases_the_key_so_a_retry_sends(api: Any, evolution: RequestsMock) -> None:
    evolution.post(SEND_TEXT, body=requests.exceptions.ConnectTimeout("refused"))
    evolution.post(SEND_TEXT, status=201, json=_sent())
    first = _post(api, {"to": "+5511999999999", "text": "Hola"}, key="order-4")
    assert first.status_code == 503
    assert _json(first)["Code"] == "UpstreamUnavailable"
    second = _post(api, {"to": "+5511999999999", "text": "Hola"}, key="order-4")
    assert second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers


def test_not_on_whatsapp_is_422_and_the_record_is_failed(api: Any, evolution: RequestsMock) -> None:
    evolution.post(
        SEND_TEXT,
        status=400,
        json={
            "status": 400,
            "error": "Bad Request",
            "response": {
                "message": [
                    {"jid": "5511900000000@s.whatsapp.net", "exists": False, "number": "5511900000000"}
                ]
            },
        },
    )
    response = _post(api, {"to": "+5511999999999", "text": "Hola"})
    assert response.status_code == 422
    payload = _json(response)
    assert payload["Code"] == "RecipientNotOnWhatsApp"
    record = _json(api.http.get(f"/messages/{payload['Details'][0]['id']}", headers=auth()))
    assert record["status"] == "failed"
    assert record["error"]["code"] == "RecipientNotOnWhatsApp"


def test_a_closed_session_is_503_instance_disconnected_with_retry_after(
    api: Any, evolution: RequestsMock
) -> None:
    evolution.post(
        SEND_TEXT,
        status=500,
        json={"status": 500, "error": "x", "response": {"message": "Connection Closed"}},
    )
    response = _post(api, {"to": "+5511999999999", "text": "Hola"})
    assert response.status_code == 503
    assert _json(response)["Code"] == "InstanceDisconnected"
    assert int(response.headers["Retry-After"]) > 0


def test_a_429_is_rate_limited_with_retry_after(api: Any, evolution: RequestsMock) -> None:
    evolution.post(SEND_TEXT, status=429, body="", headers={"Retry-After": "42"})
    response = _post(api, {"to": "+5511999999999", "text": "Hola"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "42"


def test_media_by_url_and_by_base64_send_valid_bodies_and_keep_only_metadata(
    api: Any, evolution: RequestsMock
) -> None:
    evolution.post(f"{EVOLUTION_URL}/message/sendMedia/{INSTANCE}", status=201, json=_sent("3EB0AAA1"))
    evolution.post(f"{EVOLUTION_URL}/message/sendMedia/{INSTANCE}", status=201, json=_sent("3EB0AAA2"))
    evolution.post(
        f"{EVOLUTION_URL}/message/sendWhatsAppAudio/{INSTANCE}", status=201, json=_sent("3EB0AAA3")
    )
    pdf = base64.b64encode(b"%PDF-1.4 fake").decode()
    by_url = _post(
        api,
        {
            "to": "+5511999999999",
            "media": {"url": "https://files.test/a.jpg", "type": "image", "caption": "Foto"},
        },
    )
    by_b64 = _post(
        api,
        {
            "to": "+5511999999999",
            "media": {"base64": pdf, "type": "document", "filename": "cv.pdf", "mimetype": "application/pdf"},
        },
    )
    audio = _post(
        api, {"to": "+5511999999999", "media": {"url": "https://files.test/a.ogg", "type": "audio"}}
    )
    assert [r.status_code for r in (by_url, by_b64, audio)] == [201, 201, 201]
    bodies = [json.loads(c.request.body) for c in evolution.calls]
    validate_evolution_body("sendMedia", bodies[0])
    validate_evolution_body("sendMedia", bodies[1])
    validate_evolution_body("sendWhatsAppAudio", bodies[2])
    assert bodies[0] == {
        "number": "5511999999999",
        "mediatype": "image",
        "media": "https://files.test/a.jpg",
        "caption": "Foto",
    }
    assert bodies[1]["fileName"] == "cv.pdf" and bodies[1]["media"] == pdf
    record = _json(api.http.get(f"/messages/{_json(by_b64)['id']}", headers=auth()))
    assert record["media"] == {
        "type": "document",
        "mimetype": "application/pdf",
        "filename": "cv.pdf",
        "size": 13,
    }
    assert pdf not in json.dumps(record)


def test_location_and_a_reaction_to_a_known_message(api: Any, evolution: RequestsMock) -> None:
    evolution.post(f"{EVOLUTION_URL}/message/sendLocation/{INSTANCE}", status=201, json=_sent("3EB0LOC"))
    evolution.post(f"{EVOLUTION_URL}/message/sendReaction/{INSTANCE}", status=201, json=_sent("3EB0REA"))
    location = _post(
        api,
        {
            "to": "+5511999999999",
            "location": {
                "latitude": -23.55,
                "longitude": -46.63,
                "name": "Oficina",
                "address": "Av. Paulista 1000",
            },
        },
    )
    assert location.status_code == 201
    reaction = _post(api, {"to": "+5511999999999", "reaction": {"message_id": "3EB0LOC", "emoji": "👍"}})
    assert reaction.status_code == 201
    sent = json.loads(evolution.calls[1].request.body)
    validate_evolution_body("sendReaction", sent)
    assert sent == {
        "key": {"id": "3EB0LOC", "remoteJid": "5511999999999@s.whatsapp.net", "fromMe": True},
        "reaction": "👍",
    }


def test_a_reaction_to_an_unknown_message_is_404_and_sends_nothing(api: Any, evolution: RequestsMock) -> None:
    response = _post(api, {"to": "+5511999999999", "reaction": {"message_id": "3EB0NOPE", "emoji": "👍"}})
    assert response.status_code == 404
    assert len(evolution.calls) == 0


def test_reply_to_link_preview_and_delay_reach_evolution(api: Any, evolution: RequestsMock) -> None:
    evolution.post(SEND_TEXT, status=201, json=_sent())
    _post(
        api,
        {
            "to": "+5511999999999",
            "text": "Sí",
            "reply_to": "3EB0PREV",
            "link_preview": False,
            "delay_ms": 100,
        },
    )
    body = json.loads(evolution.calls[0].request.body)
    validate_evolution_body("sendText", body)
    assert body == {
        "number": "5511999999999",
        "text": "Sí",
        "delay": 100,
        "linkPreview": False,
        "quoted": {"key": {"id": "3EB0PREV"}},
    }


def test_group_and_lid_recipients_pass_through_unchanged(api: Any, evolution: RequestsMock) -> None:
    evolution.post(SEND_TEXT, status=201, json=_sent("3EB0G", "120363000000000001@g.us"))
    evolution.post(SEND_TEXT, status=201, json=_sent("3EB0L", "123456789012345@lid"))
    group = _json(_post(api, {"to": "120363000000000001@g.us", "text": "Hola grupo"}))
    lid = _json(_post(api, {"to": "123456789012345@lid", "text": "Hola"}))
    assert group["to"] == group["jid"] == "120363000000000001@g.us"
    assert lid["to"] == "123456789012345@lid"
    assert json.loads(evolution.calls[0].request.body)["number"] == "120363000000000001@g.us"


def test_listing_is_newest_first_filters_and_pages_with_an_opaque_cursor(
    api: Any, evolution: RequestsMock
) -> None:
    for n in range(5):
        evolution.post(SEND_TEXT, status=201, json=_sent(f"3EB0LIST{n}"))
        _post(api, {"to": "+5511999999999", "text": f"n{n}"})
    first = _json(api.http.get("/messages?direction=outbound&limit=2", headers=auth()))
    assert [i["text"] for i in first["items"]] == ["n4", "n3"]
    second = _json(
        api.http.get(f"/messages?direction=outbound&limit=2&after={first['next']}", headers=auth())
    )
    assert [i["text"] for i in second["items"]] == ["n2", "n1"]
    assert _json(api.http.get("/messages?direction=inbound", headers=auth())) == {"items": [], "next": None}
    assert len(_json(api.http.get("/messages?status=pending&limit=100", headers=auth()))["items"]) == 5


@pytest.mark.parametrize(
    "query",
    [
        "direction=sideways",
        "status=lost",
        "limit=0",
        "limit=101",
        "limit=abc",
        "after=not-a-cursor",
        "colour=red",
    ],
)
def test_bad_list_queries_are_400_naming_the_parameter(api: Any, query: str) -> None:
    response = api.http.get(f"/messages?{query}", headers=auth())
    assert response.status_code == 400
    assert _json(response)["Code"] == "ValidationError"
    if not query.startswith("after="):  # a well-formed but foreign cursor is refused by the store
        name = query.split("=", maxsplit=1)[0]
        assert ["query", name] in [d["loc"] for d in _json(response)["Details"]]


MALFORMED: list[tuple[str, Any]] = [
    ("not json", b"{oops"),
    ("empty body", b""),
    ("a list", [1, 2]),
    ("a string", "hola"),
    ("null", None),
    ("no to", {"text": "Hola"}),
    ("no content", {"to": "+5511999999999"}),
    ("two contents", {"to": "+5511999999999", "text": "Hola", "location": {"latitude": 1, "longitude": 1}}),
    ("to as number", {"to": 5511999999999, "text": "Hola"}),
    ("to letters", {"to": "call-me-maybe", "text": "Hola"}),
    ("to too short", {"to": "+55", "text": "Hola"}),
    ("to national without default country", {"to": "11999999999", "text": "Hola"}),
    ("to invalid number", {"to": "+999123", "text": "Hola"}),
    ("to bad jid", {"to": "someone@example.com", "text": "Hola"}),
    ("text empty", {"to": "+5511999999999", "text": ""}),
    ("text blank", {"to": "+5511999999999", "text": "   "}),
    ("text number", {"to": "+5511999999999", "text": 12}),
    ("text too long", {"to": "+5511999999999", "text": "x" * 4097}),
    ("unknown field", {"to": "+5511999999999", "text": "Hola", "colour": "red"}),
    ("delay negative", {"to": "+5511999999999", "text": "Hola", "delay_ms": -1}),
    ("delay too long", {"to": "+5511999999999", "text": "Hola", "delay_ms": 20001}),
    ("delay string", {"to": "+5511999999999", "text": "Hola", "delay_ms": "100"}),
    ("link_preview string", {"to": "+5511999999999", "text": "Hola", "link_preview": "no"}),
    (
        "link_preview on media",
        {
            "to": "+5511999999999",
            "media": {"type": "image", "url": "https://x.test/a.png"},
            "link_preview": True,
        },
    ),
    ("reference too long", {"to": "+5511999999999", "text": "Hola", "reference": "r" * 129}),
    ("reply_to junk", {"to": "+5511999999999", "text": "Hola", "reply_to": "<script>"}),
    ("media no source", {"to": "+5511999999999", "media": {"type": "image"}}),
    (
        "media both sources",
        {"to": "+5511999999999", "media": {"type": "image", "url": "https://x.test/a", "base64": "AAAA"}},
    ),
    ("media bad type", {"to": "+5511999999999", "media": {"type": "gif", "url": "https://x.test/a.gif"}}),
    ("media ftp url", {"to": "+5511999999999", "media": {"type": "image", "url": "ftp://x.test/a.png"}}),
    (
        "media data prefix",
        {"to": "+5511999999999", "media": {"type": "image", "base64": "data:image/png;base64,AAAA"}},
    ),
    ("media bad base64", {"to": "+5511999999999", "media": {"type": "image", "base64": "@@@@not base64"}}),
    (
        "image over 5 MB",
        {
            "to": "+5511999999999",
            "media": {"type": "image", "base64": base64.b64encode(b"\0" * (5 * 1024 * 1024 + 1)).decode()},
        },
    ),
    (
        "document base64 without filename",
        {"to": "+5511999999999", "media": {"type": "document", "base64": "AAAA"}},
    ),
    (
        "audio with caption",
        {"to": "+5511999999999", "media": {"type": "audio", "url": "https://x.test/a.ogg", "caption": "hi"}},
    ),
    ("latitude out of range", {"to": "+5511999999999", "location": {"latitude": 91, "longitude": 0}}),
    ("longitude string", {"to": "+5511999999999", "location": {"latitude": 1, "longitude": "west"}}),
    ("reaction words", {"to": "+5511999999999", "reaction": {"message_id": "3EB0", "emoji": "thumbs up"}}),
    ("reaction no id", {"to": "+5511999999999", "reaction": {"emoji": "👍"}}),
    ("deeply nested junk", {"to": "+5511999999999", "text": {"a": [{"b": None}]}}),
]


@pytest.mark.parametrize(("case", "body"), MALFORMED, ids=[c for c, _ in MALFORMED])
def test_malformed_bodies_are_400_with_a_clear_message_and_send_nothing(
    api: Any, evolution: RequestsMock, case: str, body: Any
) -> None:
    response = _post(api, body)
    assert response.status_code == 400, case
    payload = _json(response)
    assert payload["Code"] in ("BadRequestError", "ValidationError")
    assert payload["Message"] and "Traceback" not in response.body.decode()
    if payload["Code"] == "ValidationError":
        assert all(d["msg"] for d in payload.get("Details", [{"msg": "x"}]))
    assert len(evolution.calls) == 0


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "tab\there", "ñ"])
def test_a_malformed_idempotency_key_is_400(api: Any, key: str) -> None:
    response = _post(api, {"to": "+5511999999999", "text": "Hola"}, key=key)
    assert response.status_code == 400


def test_a_national_number_uses_the_default_country(
    api: Any, evolution: RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import deps

    monkeypatch.setenv("DEFAULT_COUNTRY", "BR")
    deps.reset()
    evolution.post(SEND_TEXT, status=201, json=_sent())
    body = _json(_post(api, {"to": "(11) 99999-9999", "text": "Hola"}))
    assert body["to"] == "+5511999999999"


@pytest.mark.parametrize("to", ["+٥٥١١٩٩٩٩٩٩٩٩٩", "+５５１１９９９９９９９９９", "٥٥١١٩٩٩٩٩٩٩٩٩@g.us"])
def test_a_recipient_written_with_non_ascii_digits_is_refused_before_sending(
    api: Any, evolution: RequestsMock, to: str
) -> None:
    response = _post(api, {"to": to, "text": "Hola"})
    assert response.status_code == 400
    assert _json(response)["Details"][0]["loc"] == ["to"]
    assert len(evolution.calls) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://127.0.0.1:8081/_sim/instances",
        "http://localhost/cv.pdf",
        "http://[::1]/cv.pdf",
        "http://10.0.0.5/cv.pdf",
        "http://192.168.1.20/cv.pdf",
        "http://2130706433/cv.pdf",  # 127.0.0.1 as one number
        "http://[::ffff:169.254.169.254]/x",
        "https://user:pass@files.test/cv.pdf",
    ],
)
def test_a_media_url_at_a_loopback_link_local_or_private_host_is_refused_before_anything(
    api: Any, evolution: RequestsMock, url: str
) -> None:
    body = {"to": "+5511999999999", "media": {"type": "document", "url": url, "filename": "cv.pdf"}}
    for _ in range(2):  # the key was never claimed: the same request is refused the same way again
        response = _post(api, body, key="ssrf-1")
        assert response.status_code == 400
        payload = _json(response)
        assert payload["Code"] == "ValidationError"
        assert payload["Details"][0]["loc"] == ["media", "url"]
        assert "Idempotent-Replayed" not in response.headers
    assert len(evolution.calls) == 0
    assert _json(api.http.get("/messages", headers=auth()))["items"] == []


def test_an_allowlisted_private_media_host_is_sent(
    api: Any, evolution: RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import deps

    monkeypatch.setenv("URL_ALLOWLIST", "10.20.0.0/16")
    deps.reset()
    evolution.post(f"{EVOLUTION_URL}/message/sendMedia/{INSTANCE}", status=201, json=_sent("3EB0AAA9"))
    allowed = {"to": "+5511999999999", "media": {"type": "image", "url": "http://10.20.1.2/a.png"}}
    assert _post(api, allowed).status_code == 201
    other = {"to": "+5511999999999", "media": {"type": "image", "url": "http://10.21.1.2/a.png"}}
    assert _post(api, other).status_code == 400
    assert json.loads(evolution.calls[0].request.body)["media"] == "http://10.20.1.2/a.png"


def _hook(api: Any, body: dict[str, Any]) -> None:
    from tests.conftest import WEBHOOK_SECRET

    headers = {"X-Webhook-Secret": WEBHOOK_SECRET, "Content-Type": "application/json"}
    response = api.http.post("/webhook", headers=headers, body=json.dumps(body).encode())
    assert response.status_code == 200, response.body


def _inbound(key: dict[str, Any]) -> dict[str, Any]:
    from tests.conftest import load_webhook

    body = load_webhook("messages.upsert.text")
    body["instance"] = INSTANCE
    body["data"]["key"] = key
    return body


def test_a_reaction_whose_to_is_another_chat_is_refused_and_nothing_is_recorded(
    api: Any, evolution: RequestsMock
) -> None:
    evolution.post(SEND_TEXT, status=201, json=_sent("3EB0TXT"))
    assert _post(api, {"to": "+5511999999999", "text": "Hola"}).status_code == 201
    response = _post(api, {"to": "+5511988887777", "reaction": {"message_id": "3EB0TXT", "emoji": "👍"}})
    assert response.status_code == 400
    body = _json(response)
    assert body["Code"] == "ValidationError"
    assert body["Details"] == [{"loc": ["to"], "msg": "must be the reacted message's chat, +5511999999999"}]
    assert "+5511999999999" in body["Message"] and "+5511988887777" in body["Message"]
    assert len(evolution.calls) == 1  # only the text
    items = _json(api.http.get("/messages", headers=auth()))["items"]
    assert [i["type"] for i in items] == ["text"]


@pytest.mark.parametrize(
    ("key", "good_to", "bad_to"),
    [
        (  # one-to-one: the sender's number, or the chat JID's id forms
            {"remoteJid": "5511999999999@s.whatsapp.net", "fromMe": False, "id": "3EB0IN1"},
            "+55 11 99999-9999",
            "+5511988887777",
        ),
        (  # a lid chat whose phone is known: the phone names the same chat
            {
                "remoteJid": "13718000000000@lid",
                "remoteJidAlt": "5511999999999@s.whatsapp.net",
                "fromMe": False,
                "id": "3EB0IN2",
            },
            "+5511999999999",
            "+5511988887777",
        ),
        (  # a group: the group, never the participant who wrote
            {
                "remoteJid": "120363021234567890@g.us",
                "participant": "5511999999999@s.whatsapp.net",
                "fromMe": False,
                "id": "3EB0IN3",
            },
            "120363021234567890@g.us",
            "+5511999999999",
        ),
    ],
    ids=["one-to-one", "lid", "group"],
)
def test_a_reaction_to_a_received_message_must_name_its_chat(
    api: Any, evolution: RequestsMock, key: dict[str, Any], good_to: str, bad_to: str
) -> None:
    _hook(api, _inbound(key))
    bad = _post(api, {"to": bad_to, "reaction": {"message_id": key["id"], "emoji": "👍"}})
    assert bad.status_code == 400
    assert _json(bad)["Details"][0]["loc"] == ["to"]
    assert len(evolution.calls) == 0
    reacted = _sent("3EB0REA", jid=key["remoteJid"])
    evolution.post(f"{EVOLUTION_URL}/message/sendReaction/{INSTANCE}", status=201, json=reacted)
    good = _post(api, {"to": good_to, "reaction": {"message_id": key["id"], "emoji": "👍"}})
    assert good.status_code == 201, good.body
    sent = json.loads(evolution.calls[0].request.body)
    assert sent["key"] == {"id": key["id"], "remoteJid": key["remoteJid"], "fromMe": False}
    assert _json(good)["jid"] == key["remoteJid"]
