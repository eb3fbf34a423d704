"""getBase64FromMediaMessage on the simulator (devtools/evolution_simulator/inbound_media.py): the bytes it sent in inbound events, and the real
server's errors for ids it does not hold, bodies without a message, and expired media."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tests.simulator.conftest import Client


def inject(client: Client, kind: str) -> dict[str, object]:
    answer = client.post("/_sim/instances/acme/inbound", json={"kind": kind, "from": "5511999999999"})
    assert answer.status_code == 200
    data: dict[str, object] = answer.json()["data"]
    return data


@pytest.mark.parametrize(
    ("kind", "media_type", "mimetype", "head"),
    [
        ("document", "documentMessage", "application/pdf", b"%PDF"),
        ("image", "imageMessage", "image/jpeg", b"\xff\xd8\xff"),
        ("audio", "audioMessage", "audio/ogg; codecs=opus", b"OggS"),
    ],
)
def test_the_media_of_an_injected_message_is_served_as_the_bytes_it_announced(
    client: Client, kind: str, media_type: str, mimetype: str, head: bytes
) -> None:
    client.open_instance("acme")
    data = inject(client, kind)
    key = data["key"]
    assert isinstance(key, dict)

    answer = client.post("/chat/getBase64FromMediaMessage/acme", json={"message": {"key": {"id": key["id"]}}})

    assert answer.status_code == 201
    body = answer.json()
    content = base64.b64decode(body["base64"])
    fields = data["message"][media_type]  # type: ignore[index]
    assert content.startswith(head)
    assert base64.b64encode(hashlib.sha256(content).digest()).decode() == fields["fileSha256"]
    assert body["mediaType"] == media_type and body["mimetype"] == mimetype
    assert body["size"]["fileLength"] == fields["fileLength"] == str(len(content))
    assert body["buffer"] is None
    assert set(body) == {"mediaType", "fileName", "caption", "size", "mimetype", "base64", "buffer"}


def test_the_document_keeps_its_file_name_and_an_image_gets_the_id_with_an_extension(client: Client) -> None:
    client.open_instance("acme")
    document, image = inject(client, "document"), inject(client, "image")

    names = [
        client.post(
            "/chat/getBase64FromMediaMessage/acme", json={"message": {"key": {"id": d["key"]["id"]}}}
        ).json()["fileName"]
        for d in (document, image)  # type: ignore[index]
    ]

    assert names == ["orcamento-2025.pdf", f"{image['key']['id']}.jpeg"]  # type: ignore[index]


def test_unknown_ids_text_messages_and_bodies_without_a_message_get_the_real_errors(client: Client) -> None:
    client.open_instance("acme")
    text = inject(client, "text")

    cases = [
        ({"message": {"key": {"id": "3EB0NOTSENT"}}}, ["Message not found"]),
        ({"message": {"key": {"id": text["key"]["id"]}}}, ["The message is not of the media type"]),  # type: ignore[index]
        ({}, ["TypeError: Cannot read properties of undefined (reading 'key')"]),
    ]
    for body, message in cases:
        answer = client.post("/chat/getBase64FromMediaMessage/acme", json=body)
        assert answer.status_code == 400
        assert answer.json() == {"status": 400, "error": "Bad Request", "response": {"message": message}}


def test_expired_media_fails_like_whatsapps_cdn_refusing_it(client: Client) -> None:
    client.open_instance("acme")
    key = inject(client, "document")["key"]

    assert client.post("/_sim/media/expire", json={"message_id": key["id"]}).status_code == 200  # type: ignore[index]
    answer = client.post("/chat/getBase64FromMediaMessage/acme", json={"message": {"key": {"id": key["id"]}}})  # type: ignore[index]

    assert answer.status_code == 400
    (message,) = answer.json()["response"]["message"]
    assert message.startswith("Error: Failed to fetch stream from https://mmg.whatsapp.net/v/")


def test_the_instance_guards_come_first(client: Client) -> None:
    client.open_instance("acme")

    assert client.post("/chat/getBase64FromMediaMessage/ghost", json={}).status_code == 404
    wrong_key = client.post("/chat/getBase64FromMediaMessage/acme", json={}, headers={"apikey": "wrong"})
    assert wrong_key.status_code == 401
