"""Webhook parsing: every contract fixture, each tolerance, bad envelopes, and fuzzing."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from chalicelib.errors import ValidationError
from chalicelib.models.webhook import (
    ConnectionUpdated,
    IgnoredEvent,
    InboundMessage,
    MessageDeleted,
    MessageSent,
    MessageUpserted,
    QrCodeUpdated,
    StatusUpdated,
    WebhookEvent,
)
from chalicelib.services.message_rules import content_fingerprint, map_status
from chalicelib.services.phones import is_group, is_lid, jid_to_e164
from chalicelib.services.webhook_content import to_inbound_record
from chalicelib.services.webhooks import canonical_event, parse_envelope
from tests.conftest import WEBHOOKS, load_webhook

EVENTS: TypeAdapter[Any] = TypeAdapter(WebhookEvent)
RECEIVED = datetime(2025, 12, 10, 12, 0, 0, tzinfo=UTC)
FIXTURES = sorted(p.stem for p in WEBHOOKS.glob("*.json"))
MARIA = "+5511999999999"
MARIA_LID = "123456789012345@lid"


def parse(body: object) -> Any:
    return parse_envelope(body, received_at=RECEIVED)


def upsert(data: dict[str, Any], **envelope: Any) -> MessageUpserted:
    body = {"event": "messages.upsert", "instance": "acme", "data": data, **envelope}
    event = parse(body)
    assert isinstance(event, MessageUpserted)
    return event


def message(content: dict[str, Any], *, key: dict[str, Any] | None = None, **data: Any) -> InboundMessage:
    key = key or {"remoteJid": "5511999999999@s.whatsapp.net", "fromMe": False, "id": "ABC123"}
    return upsert({"key": key, "message": content, "messageTimestamp": 1765377125, **data}).message


def at(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else getattr(obj, part)
    return obj


def ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


# --- every fixture, table-driven ---

EXPECTED: dict[str, tuple[type[Any], dict[str, Any]]] = {
    "connection.update.close": (ConnectionUpdated, {"state": "close", "status_reason": 401}),
    "connection.update.connecting": (ConnectionUpdated, {"state": "connecting", "wuid": None}),
    "connection.update.open": (
        ConnectionUpdated,
        {"state": "open", "wuid": "5511900000001@s.whatsapp.net", "profile_name": "Acme Suporte"},
    ),
    "contacts.upsert": (IgnoredEvent, {"event": "contacts.upsert", "instance": "acme-support"}),
    "messages.update.delivery": (
        StatusUpdated,
        {"message_id": "3EB0C0BD05DCA97A7C09CB", "status": "delivered"},
    ),
    "messages.update.read": (
        StatusUpdated,
        {"message_id": "3EB0C0BD05DCA97A7C09CB", "status": "read", "from_me": True},
    ),
    "messages.update.real-issue-2010": (
        StatusUpdated,
        {
            "message_id": "A5561E44C2A63682E4295B52F484C14E",
            "status": "read",
            "from_me": False,
            "remote_jid": "200000000000@s.whatsapp.net",
            "instance": "myinstance",
        },
    ),
    "messages.upsert.audio": (
        MessageUpserted,
        {
            "message.type": "audio",
            "message.message_id": "3A1B2C3D4E5F6A7B8C9D",
            "message.sender_phone": MARIA,
            "message.sender_lid": MARIA_LID,
            "message.media.voice_note": True,
            "message.media.seconds": 7,
            "message.media.size": 14822,
            "message.media.mimetype": "audio/ogg; codecs=opus",
            "message.timestamp": ts(1765377401),
        },
    ),
    "messages.upsert.document": (
        MessageUpserted,
        {
            "message.type": "document",
            "message.media.file_name": "orcamento-2025.pdf",
            "message.media.mimetype": "application/pdf",
            "message.media.size": 194821,
            "message.media.page_count": 3,
            "message.caption": "Segue o orçamento assinado",
            "message.text": None,
        },
    ),
    "messages.upsert.extendedText": (
        MessageUpserted,
        {
            "message.type": "text",
            "message.text": "Pode ser amanhã às 10h? https://example.com/agenda",
            "message.quoted_message_id": "3EB0C0BD05DCA97A7C09CB",
            "message.push_name": "Maria Silva",
        },
    ),
    "messages.upsert.extendedText.v1-real": (
        MessageUpserted,
        {
            "message.type": "text",
            "message.raw_type": "extendedTextMessage",
            "message.text": "é assim que começa",
            "message.from_me": True,
            "message.quoted_message_id": "2F0C1BF027EBAFBAB650D16D3C685EE1",
            "message.chat_phone": "+5531999990000",
            "message.sender_phone": "+5531999990001",  # from_me: the instance's own number
        },
    ),
    "messages.upsert.fromMe": (
        MessageUpserted,
        {
            "message.from_me": True,
            "message.text": "Texto da mensagem",
            "message.chat_phone": MARIA,
            "message.timestamp": ts(1763771103),
        },
    ),
    "messages.upsert.image": (
        MessageUpserted,
        {
            "message.type": "image",
            "message.message_id": "3EB0194B12B8A7F8FD4EAB",
            "message.caption": "Foto do produto",
            "message.media.mimetype": "image/jpeg",
            "message.media.size": 291957,
            "message.media.width": 960,
            "message.media.height": 1280,
            "message.media.voice_note": None,
        },
    ),
    "messages.upsert.lid": (
        MessageUpserted,
        {
            "message.type": "text",
            "message.text": "Oi",
            "message.chat_jid": "13718000000000@lid",
            "message.sender_lid": "13718000000000@lid",
            "message.sender_phone": None,
            "message.push_name": "Rodrigo",
        },
    ),
    "messages.upsert.location": (
        MessageUpserted,
        {
            "message.type": "location",
            "message.location.latitude": -23.561414,
            "message.location.longitude": -46.655881,
            "message.location.name": "Av. Paulista, 1000",
            "message.location.address": "Bela Vista, São Paulo - SP",
            "message.media": None,
        },
    ),
    "messages.upsert.reaction": (
        MessageUpserted,
        {
            "message.type": "reaction",
            "message.reaction.message_id": "3EB0C0BD05DCA97A7C09CB",
            "message.reaction.emoji": "👍",
        },
    ),
    "messages.upsert.text": (
        MessageUpserted,
        {
            "message.type": "text",
            "message.message_id": "A5561E44C2A63682E4295B52F484C14E",
            "message.chat_jid": "5511999999999@s.whatsapp.net",
            "message.text": "Olá! Gostaria de um orçamento.",
            "message.sender_phone": MARIA,
            "message.sender_lid": MARIA_LID,
            "message.from_me": False,
            "message.group": False,
            "message.timestamp": ts(1765377125),
            "instance": "acme-support",
        },
    ),
    "qrcode.updated": (
        QrCodeUpdated,
        {
            "pairing_code": None,
            "message": None,
            "code": load_webhook("qrcode.updated")["data"]["qrcode"]["code"],
        },
    ),
    "send.message": (
        MessageSent,
        {
            "message_id": "3EB0C0BD05DCA97A7C09CB",
            "jid": "5511999999999@s.whatsapp.net",
            "status": "pending",
            "type": "text",
            "fingerprint": content_fingerprint("text", "Olá Maria, seu pedido foi enviado!"),
            "timestamp": ts(1765377525),
        },
    ),
}


def test_the_expectation_table_covers_every_fixture_file() -> None:
    assert sorted(EXPECTED) == FIXTURES


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_parses_to_the_expected_event_with_its_key_fields(name: str) -> None:
    body = load_webhook(name)
    kind, fields = EXPECTED[name]
    event: Any = parse(body)
    assert type(event) is kind
    assert event.instance == body["instance"]
    assert event.event == canonical_event(body["event"])
    for path, expected in fields.items():
        assert at(event, path) == expected, path


@pytest.mark.parametrize("name", FIXTURES)
def test_a_parsed_event_round_trips_through_the_webhook_event_union(name: str) -> None:
    event = parse(load_webhook(name))
    assert EVENTS.validate_json(event.model_dump_json()) == event


def test_parsing_the_largest_fixture_costs_well_under_a_millisecond() -> None:
    body = load_webhook("messages.upsert.image")
    parse(body)
    started = time.perf_counter()
    for _ in range(200):
        parse(body)
    assert (time.perf_counter() - started) / 200 < 0.001


@pytest.mark.parametrize("name", FIXTURES)
def test_the_apikey_appears_nowhere_in_the_parsed_event(name: str) -> None:
    body = load_webhook(name)
    secret = (
        "B7E1D0C2-APIKEY-SENTINEL-5F3A9C"  # the fixtures' own values are redacted, one is the instance name
    )
    body["apikey"] = secret
    event = parse(body)
    assert secret not in repr(event)
    assert secret not in event.model_dump_json()
    assert not hasattr(event, "apikey")
    if isinstance(event, MessageUpserted):
        record = to_inbound_record(
            event.message, instance="acme", record_id="msg_1", now="2025-12-10T12:00:00Z"
        )
        assert secret not in record.model_dump_json()


@pytest.mark.parametrize(
    "name",
    [
        "messages.upsert.image",
        "messages.upsert.audio",
        "messages.upsert.document",
        "messages.upsert.location",
    ],
)
def test_media_events_keep_metadata_but_never_content_or_keys(name: str) -> None:
    body = load_webhook(name)
    content = next(v for k, v in body["data"]["message"].items() if k != "messageContextInfo")
    dumped = parse(body).model_dump_json()
    blobs = ("jpegThumbnail", "mediaKey", "fileSha256", "fileEncSha256", "waveform", "directPath", "url")
    for field in blobs:
        if field in content:
            assert content[field] not in dumped, field
    assert body["data"]["message"]["messageContextInfo"]["messageSecret"] not in dumped
    if "base64" in body["data"]["message"]:
        assert body["data"]["message"]["base64"] not in dumped


def test_the_envelope_date_time_is_never_used_for_the_message_time() -> None:
    body = load_webhook("messages.upsert.text")
    event = parse(body)
    assert event.message.timestamp == ts(body["data"]["messageTimestamp"])
    assert event.message.timestamp != datetime.fromisoformat(body["date_time"])


# --- tolerances ---


def test_binary_proto_fields_as_index_objects_are_dropped_without_error() -> None:
    body = load_webhook("messages.upsert.image")
    image = body["data"]["message"]["imageMessage"]
    image["mediaKey"] = {str(i): (i * 37) % 256 for i in range(32)}
    image["fileSha256"] = {"0": 1, "1": 2}
    image["jpegThumbnail"] = {"0": 255, "1": 216}
    event = parse(body)
    assert event.message.media.size == 291957
    assert '"0":' not in event.model_dump_json()


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (1765377125, 1765377125),
        ("1765377125", 1765377125),
        ({"low": 1765377125, "high": 0, "unsigned": False}, 1765377125),
        ({"low": 1765377125, "high": 0}, 1765377125),
        (1765377125000, 1765377125),  # milliseconds
        (1765377125.0, 1765377125),
    ],
)
def test_message_timestamps_are_read_from_ints_numeric_strings_and_low_high_longs(
    raw: object, seconds: int
) -> None:
    assert message({"conversation": "x"}, messageTimestamp=raw).timestamp == ts(seconds)


@pytest.mark.parametrize("raw", [None, "soon", {"low": "x"}, -5, 0, 10**30, [1], True, 1.5])
def test_a_missing_or_unusable_timestamp_falls_back_to_the_receive_time(raw: object) -> None:
    data: dict[str, Any] = {"key": {"remoteJid": "5511999999999@s.whatsapp.net", "id": "A"}}
    data["message"] = {"conversation": "x"}
    if raw is not None:
        data["messageTimestamp"] = raw
    assert upsert(data).message.timestamp == RECEIVED


def test_a_naive_receive_time_is_taken_as_utc_and_others_are_converted() -> None:
    body = {"event": "messages.upsert", "instance": "a", "data": {"key": {"remoteJid": "1@lid", "id": "A"}}}
    naive = parse_envelope(body, received_at=datetime(2025, 1, 1, 12, 0))
    assert isinstance(naive, MessageUpserted)
    assert naive.message.timestamp == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    sao_paulo = parse_envelope(
        body, received_at=datetime(2025, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=-3)))
    )
    assert isinstance(sao_paulo, MessageUpserted)
    assert sao_paulo.message.timestamp == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert sao_paulo.message.timestamp.tzinfo is UTC


def test_long_file_lengths_as_low_high_objects_are_read() -> None:
    big = 5 * 2**32 + 7
    media = message({"documentMessage": {"fileLength": {"low": 7, "high": 5, "unsigned": True}}}).media
    assert media is not None and media.size == big


def test_a_negative_file_length_is_not_reported_as_a_size() -> None:
    media = message({"videoMessage": {"fileLength": {"low": -1, "high": -1, "unsigned": False}}}).media
    assert media is not None and media.size is None


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("MESSAGES_UPSERT", "messages.upsert"),
        ("messages-upsert", "messages.upsert"),
        ("Messages.Upsert", "messages.upsert"),
        ("SEND_MESSAGE", "send.message"),
        ("CONNECTION_UPDATE", "connection.update"),
        ("QRCODE_UPDATED", "qrcode.updated"),
        ("MESSAGES_UPDATE", "messages.update"),
        ("MESSAGES_DELETE", "messages.delete"),
        ("CONTACTS_UPSERT", "contacts.upsert"),
        ("PRESENCE_UPDATE", "presence.update"),
    ],
)
def test_uppercase_underscore_and_dashed_event_names_are_normalised(name: str, canonical: str) -> None:
    assert canonical_event(name) == canonical


def test_an_uppercase_event_parses_like_its_dotted_form() -> None:
    body = load_webhook("messages.upsert.text")
    body["event"] = "MESSAGES_UPSERT"
    event = parse(body)
    assert isinstance(event, MessageUpserted) and event.event == "messages.upsert"
    status = load_webhook("messages.update.read") | {"event": "MESSAGES_UPDATE"}
    assert isinstance(parse(status), StatusUpdated)


def test_messages_upsert_data_wrapped_in_a_one_element_list_is_unwrapped() -> None:
    body = load_webhook("messages.upsert.text")
    body["data"] = [body["data"]]
    assert parse(body).message.text == "Olá! Gostaria de um orçamento."


@pytest.mark.parametrize("count", [0, 2])
def test_messages_upsert_data_as_an_empty_or_longer_list_is_rejected(count: int) -> None:
    body = load_webhook("messages.upsert.text")
    body["data"] = [body["data"]] * count
    with pytest.raises(ValidationError) as error:
        parse(body)
    assert error.value.details == [{"loc": ["data"], "msg": f"expected one message, got a list of {count}"}]


def test_a_group_message_takes_its_sender_from_participant_and_participant_alt() -> None:
    key = {
        "remoteJid": "120363000000000001@g.us",
        "fromMe": False,
        "id": "3EB0AA",
        "participant": "123456789012345@lid",
        "participantAlt": "5511999999999@s.whatsapp.net",
    }
    msg = message({"conversation": "bom dia"}, key=key, pushName="Maria")
    assert msg.group is True
    assert msg.participant == "123456789012345@lid"
    assert msg.sender_phone == MARIA
    assert msg.sender_lid == "123456789012345@lid"
    assert msg.chat_phone is None
    assert msg.chat_jid == "120363000000000001@g.us"


def test_a_group_message_with_a_phone_participant_and_no_alt_still_has_a_phone() -> None:
    key = {"remoteJid": "120363000000000001@g.us", "id": "B", "participant": "5511999999999@s.whatsapp.net"}
    msg = message({"conversation": "oi"}, key=key)
    assert (msg.sender_phone, msg.sender_lid) == (MARIA, None)


def test_a_lid_sender_takes_its_phone_from_remote_jid_alt() -> None:
    key = {"remoteJid": "123456789012345@lid", "remoteJidAlt": "5511999999999@s.whatsapp.net", "id": "C"}
    msg = message({"conversation": "oi"}, key=key)
    assert (msg.sender_phone, msg.sender_lid, msg.chat_phone) == (MARIA, MARIA_LID, MARIA)


def test_baileys_6_sender_pn_and_sender_lid_key_fields_are_understood() -> None:
    key = {"remoteJid": "123456789012345@lid", "senderPn": "5511999999999@s.whatsapp.net", "id": "D"}
    assert message({"conversation": "oi"}, key=key).sender_phone == MARIA


def test_a_status_broadcast_is_flagged_and_its_sender_is_the_participant() -> None:
    key = {"remoteJid": "status@broadcast", "id": "E", "participant": "5511999999999@s.whatsapp.net"}
    msg = message({"imageMessage": {"mimetype": "image/jpeg"}}, key=key)
    assert msg.group is False and msg.sender_phone == MARIA


def test_an_unknown_message_type_is_kept_as_unknown_with_the_raw_message_type() -> None:
    msg = message({"pollUpdateMessage": {"vote": {"0": 1}}}, messageType="pollUpdateMessage")
    assert (msg.type, msg.raw_type, msg.text) == ("unknown", "pollUpdateMessage", None)
    assert message({"protocolMessage": {"type": 0}}).raw_type == "protocolMessage"


def test_a_message_without_content_is_unknown_rather_than_an_error() -> None:
    msg = upsert({"key": {"remoteJid": "5511999999999@s.whatsapp.net", "id": "F"}, "message": None}).message
    assert (msg.type, msg.raw_type) == ("unknown", None)


@pytest.mark.parametrize(
    "envelope", [{}, {"sender": None}, {"apikey": None}, {"sender": None, "apikey": None}]
)
def test_a_missing_or_null_sender_and_a_null_apikey_are_accepted(envelope: dict[str, Any]) -> None:
    body = load_webhook("messages.upsert.fromMe")
    body.pop("sender")
    body.pop("apikey")
    body.update(envelope)
    msg = parse(body).message
    assert msg.from_me is True and msg.sender_phone is None and msg.chat_phone == MARIA


def test_unknown_fields_anywhere_are_ignored() -> None:
    body = load_webhook("messages.update.read")
    body["brandNew"] = {"x": 1}
    body["data"]["pollUpdates"] = [{"vote": {"0": 1}}]
    assert parse(body).status == "read"


# --- message types ---


def test_extended_text_gives_text_and_its_quoted_message_id() -> None:
    msg = message({"extendedTextMessage": {"text": "ok!", "contextInfo": {"stanzaId": "Q1"}}})
    assert (msg.type, msg.text, msg.quoted_message_id) == ("text", "ok!", "Q1")


def test_a_video_keeps_caption_and_metadata() -> None:
    content = {
        "videoMessage": {"mimetype": "video/mp4", "caption": "olha", "seconds": 12, "fileLength": "1048576"}
    }
    msg = message(content | {"base64": "AAAA"})
    assert msg.type == "video" and msg.caption == "olha"
    assert msg.media is not None and (msg.media.seconds, msg.media.size) == (12, 1048576)


def test_an_audio_that_is_not_a_voice_note_says_so() -> None:
    msg = message({"audioMessage": {"mimetype": "audio/mpeg", "ptt": False, "seconds": 200}})
    assert msg.media is not None and msg.media.voice_note is False


def test_a_document_with_caption_is_unwrapped() -> None:
    inner = {"documentMessage": {"fileName": "cv.pdf", "mimetype": "application/pdf", "caption": "Meu CV"}}
    msg = message(
        {"documentWithCaptionMessage": {"message": inner}}, messageType="documentWithCaptionMessage"
    )
    assert (msg.type, msg.caption, msg.raw_type) == ("document", "Meu CV", "documentWithCaptionMessage")
    assert msg.media is not None and msg.media.file_name == "cv.pdf"


def test_a_view_once_image_is_unwrapped() -> None:
    msg = message(
        {"viewOnceMessageV2": {"message": {"imageMessage": {"mimetype": "image/jpeg", "viewOnce": True}}}}
    )
    assert msg.type == "image"


def test_a_sticker_is_a_sticker_with_its_metadata() -> None:
    msg = message(
        {"stickerMessage": {"mimetype": "image/webp", "isAnimated": True, "width": 512, "height": 512}}
    )
    assert msg.type == "sticker" and msg.media is not None and msg.media.animated is True


def test_a_shared_contact_keeps_name_and_vcard() -> None:
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nTEL;type=CELL;waid=5511988887777:+55 11 98888-7777\nEND:VCARD"
    msg = message({"contactMessage": {"displayName": "Ana", "vcard": vcard}})
    assert msg.type == "contact" and msg.contacts[0].name == "Ana" and msg.text == vcard


def test_several_shared_contacts_are_all_kept() -> None:
    contacts = [{"displayName": "Ana", "vcard": "V1"}, {"displayName": "Bia", "vcard": "V2"}, "junk"]
    msg = message({"contactsArrayMessage": {"displayName": "2 contatos", "contacts": contacts}})
    assert [c.name for c in msg.contacts] == ["Ana", "Bia"]


def test_a_poll_keeps_its_question_and_options() -> None:
    poll = {
        "name": "Melhor dia?",
        "options": [{"optionName": "Seg"}, {"optionName": "Ter"}],
        "selectableOptionsCount": 1,
    }
    msg = message({"pollCreationMessageV3": poll})
    assert msg.type == "poll" and msg.poll is not None
    assert (msg.poll.name, msg.poll.options, msg.poll.selectable_count) == ("Melhor dia?", ["Seg", "Ter"], 1)


def test_a_live_location_is_a_location() -> None:
    msg = message(
        {"liveLocationMessage": {"degreesLatitude": "-23.5", "degreesLongitude": -46.6, "caption": "aqui"}}
    )
    assert msg.location is not None
    assert (msg.location.latitude, msg.location.live, msg.location.name) == (-23.5, True, "aqui")


def test_a_reaction_with_an_empty_emoji_is_a_removal() -> None:
    msg = message({"reactionMessage": {"key": {"id": "3EB0C0BD05DCA97A7C09CB"}, "text": ""}})
    assert msg.reaction is not None and msg.reaction.emoji == ""


def test_wrongly_typed_optional_fields_become_none_instead_of_failing_the_delivery() -> None:
    content = {"imageMessage": {"mimetype": 5, "caption": ["x"], "width": "wide", "contextInfo": "?"}}
    msg = message(content, pushName=42)
    assert msg.media is not None and msg.media.mimetype is None and msg.media.width is None
    assert msg.caption is None and msg.push_name is None


# --- statuses and the other events ---


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("ERROR", "failed"),
        ("PENDING", "pending"),
        ("SERVER_ACK", "sent"),
        ("SENT", "sent"),
        ("DELIVERY_ACK", "delivered"),
        ("DELIVERED", "delivered"),
        ("READ", "read"),
        ("PLAYED", "played"),
        ("FAILED", "failed"),
        ("read", "read"),
        (0, "failed"),
        (1, "pending"),
        (2, "sent"),
        (3, "delivered"),
        (4, "read"),
        (5, "played"),
        ("3", "delivered"),
        ("DELETED", None),
        ("SOMETHING_NEW", None),
        (9, None),
        (None, None),
        (True, None),
        ({"x": 1}, None),
    ],
)
def test_statuses_map_to_the_service_statuses_and_unknown_ones_to_none(
    raw: object, status: str | None
) -> None:
    assert map_status(raw) == status
    body = load_webhook("messages.update.delivery")
    body["data"]["status"] = raw
    event = parse(body)
    assert isinstance(event, StatusUpdated) and event.status == status


def test_a_deleted_message_gives_its_id_and_chat() -> None:
    data = {"remoteJid": "5511999999999@s.whatsapp.net", "fromMe": False, "id": "3A77", "status": "DELETED"}
    event = parse({"event": "messages.delete", "instance": "acme", "data": data})
    assert isinstance(event, MessageDeleted)
    assert (event.message_id, event.remote_jid, event.from_me) == (
        "3A77",
        "5511999999999@s.whatsapp.net",
        False,
    )


def test_the_qr_limit_message_variant_has_no_qr() -> None:
    data = {"message": "QR code limit reached, please login again", "statusCode": 500}
    event = parse({"event": "qrcode.updated", "instance": "acme", "data": data})
    assert isinstance(event, QrCodeUpdated)
    assert (event.qr_code, event.code, event.pairing_code) == (None, None, None)
    assert event.message == "QR code limit reached, please login again"


def test_the_qr_fixture_gives_the_data_url_and_code() -> None:
    event = parse(load_webhook("qrcode.updated"))
    assert event.qr_code is not None and event.qr_code.startswith("data:image/png;base64,")


def test_an_unknown_connection_state_is_kept_as_raw_with_no_state() -> None:
    event = parse({"event": "connection.update", "instance": "acme", "data": {"state": "syncing"}})
    assert isinstance(event, ConnectionUpdated) and event.state is None and event.raw_state == "syncing"


def test_the_refused_connection_state_is_known() -> None:
    event = parse(
        {
            "event": "CONNECTION_UPDATE",
            "instance": "acme",
            "data": {"state": "refused", "statusReason": "403"},
        }
    )
    assert (event.state, event.status_reason) == ("refused", 403)


@pytest.mark.parametrize("event", ["chats.upsert", "presence.update", "groups.upsert", "call", "LABELS_EDIT"])
def test_other_events_are_ignored_whatever_their_data(event: str) -> None:
    parsed = parse({"event": event, "instance": "acme", "data": [1, "x", None]})
    assert isinstance(parsed, IgnoredEvent) and parsed.event == canonical_event(event)


# --- fingerprints ---


def test_an_inbound_message_fingerprint_matches_what_the_sender_would_compute() -> None:
    image = parse(load_webhook("messages.upsert.image")).message
    assert image.fingerprint == content_fingerprint("image", "Foto do produto")
    location = parse(load_webhook("messages.upsert.location")).message
    assert location.fingerprint == content_fingerprint("location", "-23.561414,-46.655881")
    reaction = parse(load_webhook("messages.upsert.reaction")).message
    assert reaction.fingerprint == content_fingerprint("reaction", "3EB0C0BD05DCA97A7C09CB:👍")
    text = parse(load_webhook("messages.upsert.fromMe")).message
    assert text.fingerprint == content_fingerprint("text", "Texto da mensagem")


def test_a_lone_surrogate_in_text_is_replaced_so_the_event_still_serialises() -> None:
    msg = message({"conversation": "oi \ud800"})
    assert "\ud800" not in (msg.text or "")
    assert json.loads(msg.model_dump_json())["text"].startswith("oi ")


# --- records ---


def test_an_inbound_record_is_delivered_from_the_contact_with_one_history_entry() -> None:
    msg = parse(load_webhook("messages.upsert.document")).message
    record = to_inbound_record(msg, instance="acme-support", record_id="msg_01", now="2025-12-10T12:00:00Z")
    assert (record.direction, record.origin, record.status) == ("inbound", "contact", "delivered")
    assert [(e.status, e.at) for e in record.status_history] == [("delivered", "2025-12-10T12:00:00Z")]
    assert (record.from_, record.from_lid, record.push_name) == (MARIA, MARIA_LID, "Maria Silva")
    assert record.to is None and record.jid == "5511999999999@s.whatsapp.net"
    assert record.media == {
        "mimetype": "application/pdf",
        "file_name": "orcamento-2025.pdf",
        "size": 194821,
        "page_count": 3,
        "stored": False,  # until the background fetch stores the file
    }
    assert (record.caption, record.text, record.type) == ("Segue o orçamento assinado", None, "document")
    assert record.timestamp == "2025-12-10T14:38:21Z"
    assert record.fingerprint == msg.fingerprint
    assert (record.id, record.instance, record.message_id) == (
        "msg_01",
        "acme-support",
        "3EB0BD277A5B09AE1BB9DF",
    )
    assert record.public()["from"] == MARIA


def test_a_message_typed_on_the_phone_becomes_an_outbound_phone_record_sent_to_the_chat() -> None:
    msg = parse(load_webhook("messages.upsert.fromMe")).message
    record = to_inbound_record(msg, instance="acme-support", record_id="msg_02", now="2025-12-10T12:00:00Z")
    assert (record.direction, record.origin, record.status, record.to) == ("outbound", "phone", "sent", MARIA)
    assert record.from_ is None and record.text == "Texto da mensagem"


def test_a_phone_typed_message_to_a_lid_chat_is_addressed_to_the_jid() -> None:
    msg = message({"conversation": "oi"}, key={"remoteJid": "987654321098765@lid", "fromMe": True, "id": "G"})
    record = to_inbound_record(msg, instance="a", record_id="msg_03", now="2025-12-10T12:00:00Z")
    assert record.to == "987654321098765@lid"


def test_reaction_and_location_records_use_the_api_field_names() -> None:
    reaction = parse(load_webhook("messages.upsert.reaction")).message
    record = to_inbound_record(reaction, instance="a", record_id="msg_04", now="2025-12-10T12:00:00Z")
    assert record.reaction == {"message_id": "3EB0C0BD05DCA97A7C09CB", "emoji": "👍"}
    location = parse(load_webhook("messages.upsert.location")).message
    record = to_inbound_record(location, instance="a", record_id="msg_05", now="2025-12-10T12:00:00Z")
    assert record.location == {
        "latitude": -23.561414,
        "longitude": -46.655881,
        "name": "Av. Paulista, 1000",
        "address": "Bela Vista, São Paulo - SP",
    }


# --- phone helpers ---


@pytest.mark.parametrize(
    ("jid", "e164"),
    [
        ("5511999999999@s.whatsapp.net", "+5511999999999"),
        ("5511999999999:12@s.whatsapp.net", "+5511999999999"),
        ("551199999999@s.whatsapp.net", "+551199999999"),  # pre-ninth-digit Brazilian account
        ("5511999999999@c.us", "+5511999999999"),
        ("123456789012345@lid", None),
        ("120363000000000001@g.us", None),
        ("status@broadcast", None),
        ("12@s.whatsapp.net", None),
        ("abc@s.whatsapp.net", None),
        ("200000000000@s.whatsapp.net", None),  # digits phonenumbers would rewrite: not trusted
        ("", None),
        (None, None),
    ],
)
def test_jids_become_e164_only_for_possible_phone_numbers(jid: str | None, e164: str | None) -> None:
    assert jid_to_e164(jid) == e164


def test_lid_and_group_jids_are_told_apart() -> None:
    assert is_lid("123@lid") and not is_lid("5511@s.whatsapp.net") and not is_lid(None)
    assert is_group("1203@g.us") and not is_group("123@lid") and not is_group("")


# --- bad envelopes ---


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ([], []),
        ("messages.upsert", []),
        (None, []),
        (42, []),
        ({}, ["event"]),
        ({"event": 7, "instance": "a"}, ["event"]),
        ({"event": "", "instance": "a"}, ["event"]),
        ({"event": "  ", "instance": "a"}, ["event"]),
        ({"event": "messages.upsert"}, ["instance"]),
        ({"event": "messages.upsert", "instance": None}, ["instance"]),
        ({"event": "messages.upsert", "instance": "a", "data": "hello"}, ["data"]),
        ({"event": "messages.upsert", "instance": "a"}, ["data"]),
        (
            {"event": "messages.upsert", "instance": "a", "data": {"key": {"id": "A"}}},
            ["data", "key", "remoteJid"],
        ),
        (
            {"event": "messages.upsert", "instance": "a", "data": {"key": {"remoteJid": "x@lid"}}},
            ["data", "key", "id"],
        ),
        ({"event": "messages.upsert", "instance": "a", "data": {"message": {}}}, ["data", "key"]),
        ({"event": "send.message", "instance": "a", "data": 3}, ["data"]),
        ({"event": "messages.update", "instance": "a", "data": {"status": "READ"}}, ["data", "keyId"]),
        ({"event": "messages.update", "instance": "a", "data": ["x"]}, ["data"]),
        ({"event": "messages.delete", "instance": "a", "data": {"remoteJid": "x"}}, ["data", "id"]),
        ({"event": "connection.update", "instance": "a", "data": {"statusReason": 200}}, ["data", "state"]),
        ({"event": "qrcode.updated", "instance": "a", "data": "qr"}, ["data"]),
    ],
)
def test_a_body_that_is_not_an_evolution_envelope_is_a_validation_error_saying_where(
    body: object, loc: list[Any]
) -> None:
    with pytest.raises(ValidationError) as error:
        parse(body)
    assert error.value.status == 400
    assert error.value.message
    details = error.value.details
    assert details and all(set(d) == {"loc", "msg"} and isinstance(d["msg"], str) for d in details)
    assert details[0]["loc"] == loc


def test_validation_details_never_echo_the_input() -> None:
    secret_text = "my-secret-text-4711"
    with pytest.raises(ValidationError) as error:
        parse({"event": "messages.update", "instance": "a", "data": {"keyId": {"nested": secret_text}}})
    assert secret_text not in repr(error.value.details) and secret_text not in error.value.message


# --- fuzzing ---

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)
event_names = st.sampled_from(
    ["messages.upsert", "MESSAGES_UPSERT", "messages.update", "messages.delete", "send.message"]
    + ["connection.update", "qrcode.updated", "contacts.upsert", ""]
) | st.text(max_size=20)
PARSED = (
    MessageUpserted,
    StatusUpdated,
    MessageDeleted,
    MessageSent,
    ConnectionUpdated,
    QrCodeUpdated,
    IgnoredEvent,
)


def parse_or_reject(body: object) -> None:
    try:
        event = parse(body)
    except ValidationError as error:
        assert error.details
        return
    assert isinstance(event, PARSED)
    event.model_dump_json()
    if isinstance(event, MessageUpserted):
        to_inbound_record(event.message, instance="a", record_id="msg_1", now="2025-12-10T12:00:00Z")


@given(json_values)
def test_arbitrary_json_values_never_raise_anything_but_validation_error(body: object) -> None:
    parse_or_reject(body)


@given(event_names, json_values | st.text(max_size=12), json_values)
def test_arbitrary_envelopes_never_raise_anything_but_validation_error(
    event: str, instance: object, data: object
) -> None:
    parse_or_reject({"event": event, "instance": instance, "data": data})


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


FIXTURE_BODIES = {name: load_webhook(name) for name in FIXTURES}


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> Any:
    body = copy.deepcopy(FIXTURE_BODIES[draw(st.sampled_from(FIXTURES))])
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        candidates = paths(body)
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = body
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return body


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_fixtures())
def test_mutated_fixtures_never_raise_anything_but_validation_error(body: Any) -> None:
    parse_or_reject(body)
