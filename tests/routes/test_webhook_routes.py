"""POST /webhook through the Chalice test client: every contract fixture, auth, dedup, bad input."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from responses import RequestsMock

from chalicelib.models.records import STATUS_RANK
from tests.conftest import EVOLUTION_URL, INSTANCE, WEBHOOK_SECRET, WEBHOOKS, auth, load_webhook

SEND_TEXT = f"{EVOLUTION_URL}/message/sendText/{INSTANCE}"
FIXTURES = sorted(p.stem for p in WEBHOOKS.glob("*.json"))
SENT_ID = "3EB0C0BD05DCA97A7C09CB"  # the key id shared by send.message and messages.update.*
MARIA_JID = "5511999999999@s.whatsapp.net"
SENT_TEXT = "Olá Maria, seu pedido foi enviado!"  # the text of send.message.json
APIKEYS = sorted({str(load_webhook(name)["apikey"]) for name in FIXTURES if load_webhook(name).get("apikey")})


# --- helpers ---


def _envelope(name: str, **changes: Any) -> dict[str, Any]:
    """A fixture addressed to this service's instance (the fixtures say ``acme-support``)."""
    body = load_webhook(name)
    body["instance"] = INSTANCE
    if isinstance(body.get("data"), dict) and "instance" in body["data"]:
        body["data"]["instance"] = INSTANCE
    return body | changes


def _hook(
    api: Any,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    path: str = "/webhook",
) -> Any:
    sent = {"X-Webhook-Secret": WEBHOOK_SECRET} if headers is None else headers
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.http.post(path, headers={"Content-Type": "application/json", **sent}, body=raw)


def _json(response: Any) -> Any:
    return json.loads(response.body)


def _ok(response: Any, event: str) -> dict[str, Any]:
    assert response.status_code == 200, response.body
    body: dict[str, Any] = _json(response)
    assert body["received"] is True
    assert body["event"] == event
    return body


def _messages(api: Any, direction: str | None = None) -> list[dict[str, Any]]:
    path = "/messages" + (f"?direction={direction}" if direction else "")
    response = api.http.get(path, headers=auth())
    assert response.status_code == 200, response.body
    items: list[dict[str, Any]] = _json(response)["items"]
    return items


def _message(api: Any, lookup: str) -> dict[str, Any]:
    response = api.http.get(f"/messages/{lookup}", headers=auth())
    assert response.status_code == 200, response.body
    record: dict[str, Any] = _json(response)
    return record


def _send(
    api: Any, evolution: RequestsMock, text: str = SENT_TEXT, message_id: str = SENT_ID
) -> dict[str, Any]:
    """Send a text through POST /messages with Evolution answering ``message_id``."""
    evolution.post(
        SEND_TEXT,
        status=201,
        json={
            "key": {"remoteJid": MARIA_JID, "fromMe": True, "id": message_id},
            "status": "PENDING",
            "message": {"conversation": text},
            "messageType": "conversation",
            "messageTimestamp": 1765377525,
        },
    )
    response = api.http.post(
        "/messages", headers=auth(), body=json.dumps({"to": "+5511999999999", "text": text}).encode()
    )
    assert response.status_code == 201, response.body
    body: dict[str, Any] = _json(response)
    return body


def _state(instance: str = INSTANCE) -> Any:
    from chalicelib.deps import get_store

    return get_store().get_instance_state(instance)


def _at(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _history(record: dict[str, Any]) -> list[str]:
    return [step["status"] for step in record["status_history"]]


def _assert_monotonic(record: dict[str, Any]) -> None:
    statuses = _history(record)
    assert len(statuses) == len(set(statuses)), f"repeated status in {statuses}"
    ranks = [STATUS_RANK[s] for s in statuses]
    assert ranks == sorted(ranks), f"history goes backward: {statuses}"
    assert record["status"] == statuses[-1]


# --- 1. every fixture, with its effect ---

Effect = Callable[[Any, RequestsMock, dict[str, Any]], None]


def _inbound(**expected: Any) -> Effect:
    """An inbound record from Maria (phone + lid) unless ``expected`` says otherwise."""

    def check(api: Any, _evolution: RequestsMock, answer: dict[str, Any]) -> None:
        assert answer["duplicate"] is False
        items = _messages(api, "inbound")
        assert len(items) == 1
        record = items[0]
        want = {
            "direction": "inbound",
            "origin": "contact",
            "status": "delivered",
            "from": "+5511999999999",
            "from_lid": "123456789012345@lid",
            "push_name": "Maria Silva",
            "jid": MARIA_JID,
        } | expected
        media = want.pop("media", None)
        for key, value in want.items():
            assert record[key] == value, key
        if media is not None:
            assert record["media"] == media
        assert "to" not in record
        assert _messages(api, "outbound") == []
        assert _message(api, record["message_id"])["id"] == record["id"]

    return check


def _outbound_from_phone(to: str, text: str, timestamp: int) -> Effect:
    def check(api: Any, _evolution: RequestsMock, answer: dict[str, Any]) -> None:
        assert answer["duplicate"] is False
        assert _messages(api, "inbound") == []
        (record,) = _messages(api, "outbound")
        assert record["origin"] == "phone"
        assert record["to"] == to
        assert record["text"] == text
        assert record["type"] == "text"
        assert record["status"] == "sent"
        assert record["timestamp"] == _at(timestamp)
        for field in ("from", "from_lid", "push_name"):
            assert field not in record

    return check


def _state_is(state: str, *, qr: bool) -> Effect:
    def check(api: Any, _evolution: RequestsMock, answer: dict[str, Any]) -> None:
        current = _state()
        assert current is not None
        assert current.state == state
        if qr:
            assert current.qr_code is not None and current.qr_code.startswith("data:image/png;base64,")
            assert current.code is not None and current.code.startswith("2@")
        else:
            assert current.qr_code is None
        assert _messages(api) == []

    return check


def _status_applied(status: str) -> Effect:
    def check(api: Any, _evolution: RequestsMock, answer: dict[str, Any]) -> None:
        assert answer["duplicate"] is False
        record = _message(api, SENT_ID)
        assert record["status"] == status
        assert _history(record) == ["pending", status]
        _assert_monotonic(record)

    return check


def _nothing_stored(api: Any, _evolution: RequestsMock, answer: dict[str, Any]) -> None:
    assert answer.get("ignored") is True
    assert _messages(api) == []
    assert _state() is None


def _orphan_only(api: Any, _evolution: RequestsMock, answer: dict[str, Any]) -> None:
    # A status for a message the service never saw is kept as an orphan, not a record.
    assert _messages(api) == []


def _send_confirmed(api: Any, _evolution: RequestsMock, answer: dict[str, Any]) -> None:
    record = _message(api, SENT_ID)
    assert record["status"] in ("pending", "sent")
    assert record["text"] == SENT_TEXT
    assert len(_messages(api)) == 1, "the webhook of our own send is not a second record"
    _assert_monotonic(record)


def _send_first(api: Any, evolution: RequestsMock) -> None:
    _send(api, evolution)


EFFECTS: dict[str, tuple[Callable[[Any, RequestsMock], None] | None, Effect]] = {
    "connection.update.close": (None, _state_is("close", qr=False)),
    "connection.update.connecting": (None, _state_is("connecting", qr=False)),
    "connection.update.open": (None, _state_is("open", qr=False)),
    "contacts.upsert": (None, _nothing_stored),
    "messages.update.delivery": (_send_first, _status_applied("delivered")),
    "messages.update.read": (_send_first, _status_applied("read")),
    "messages.update.real-issue-2010": (None, _orphan_only),
    "messages.upsert.audio": (
        None,
        _inbound(
            type="audio",
            timestamp=_at(1765377401),
            media={
                "mimetype": "audio/ogg; codecs=opus",
                "size": 14822,
                "seconds": 7,
                "voice_note": True,
                "stored": False,
            },
        ),
    ),
    "messages.upsert.document": (
        None,
        _inbound(
            type="document",
            caption="Segue o orçamento assinado",
            timestamp=_at(1765377501),
            media={
                "mimetype": "application/pdf",
                "file_name": "orcamento-2025.pdf",
                "size": 194821,
                "page_count": 3,
                "stored": False,
            },
        ),
    ),
    "messages.upsert.extendedText": (
        None,
        _inbound(
            type="text",
            text="Pode ser amanhã às 10h? https://example.com/agenda",
            timestamp=_at(1765377190),
        ),
    ),
    "messages.upsert.extendedText.v1-real": (
        None,
        _outbound_from_phone("+5531999990000", "é assim que começa", 1700836715),
    ),
    "messages.upsert.fromMe": (None, _outbound_from_phone("+5511999999999", "Texto da mensagem", 1763771103)),
    "messages.upsert.image": (
        None,
        _inbound(
            type="image",
            caption="Foto do produto",
            timestamp=_at(1765377300),
            media={"mimetype": "image/jpeg", "size": 291957, "width": 960, "height": 1280, "stored": False},
        ),
    ),
    "messages.upsert.lid": (
        None,
        _inbound(
            type="text",
            text="Oi",
            timestamp=_at(1773027345),
            jid="13718000000000@lid",
            from_lid="13718000000000@lid",
            push_name="Rodrigo",
            **{"from": None},
        ),
    ),
    "messages.upsert.location": (
        None,
        _inbound(
            type="location",
            timestamp=_at(1765377600),
            location={
                "latitude": -23.561414,
                "longitude": -46.655881,
                "name": "Av. Paulista, 1000",
                "address": "Bela Vista, São Paulo - SP",
            },
        ),
    ),
    "messages.upsert.reaction": (
        None,
        _inbound(
            type="reaction",
            timestamp=_at(1765377659),
            reaction={"message_id": SENT_ID, "emoji": "👍"},
        ),
    ),
    "messages.upsert.text": (
        None,
        _inbound(type="text", text="Olá! Gostaria de um orçamento.", timestamp=_at(1765377125)),
    ),
    "qrcode.updated": (None, _state_is("connecting", qr=True)),
    "send.message": (_send_first, _send_confirmed),
}


def test_every_contract_fixture_has_an_expected_effect() -> None:
    assert sorted(EFFECTS) == FIXTURES


@pytest.mark.parametrize("name", FIXTURES)
def test_each_fixture_is_received_and_has_its_effect(api: Any, evolution: RequestsMock, name: str) -> None:
    setup, check = EFFECTS[name]
    if setup is not None:
        setup(api, evolution)
    body = _envelope(name)
    answer = _ok(_hook(api, body), body["event"])
    check(api, evolution, answer)


def test_a_message_for_another_instance_is_ignored_and_nothing_is_stored(api: Any) -> None:
    for name in ("messages.upsert.text", "connection.update.open", "qrcode.updated"):
        body = load_webhook(name)  # still "acme-support"
        assert body["instance"] != INSTANCE
        answer = _ok(_hook(api, body), body["event"])
        assert answer["ignored"] is True
    assert _messages(api) == []
    assert _state() is None
    assert _state("acme-support") is None


def test_an_inbound_image_keeps_media_metadata_but_never_its_content(api: Any) -> None:
    _ok(_hook(api, _envelope("messages.upsert.image")), "messages.upsert")
    (record,) = _messages(api, "inbound")
    flat = json.dumps(record)
    assert "base64" not in flat
    assert "/9j/4AAQ" not in flat, "jpegThumbnail / base64 content must not be stored"
    assert "mediaKey" not in flat and "url" not in record["media"]


def test_a_status_that_arrives_before_the_send_is_folded_in_when_the_send_is_recorded(
    api: Any, evolution: RequestsMock
) -> None:
    for name in ("messages.update.delivery", "messages.update.read"):
        _ok(_hook(api, _envelope(name)), "messages.update")
    assert _messages(api) == [], "an orphan status creates no record"
    sent = _send(api, evolution)
    record = _message(api, sent["id"])
    assert record["message_id"] == SENT_ID
    assert record["status"] == "read"
    assert set(_history(record)) == {"pending", "delivered", "read"}
    _assert_monotonic(record)


def test_a_first_status_for_a_message_not_yet_recorded_is_not_called_a_duplicate(api: Any) -> None:
    answer = _ok(_hook(api, _envelope("messages.update.delivery")), "messages.update")
    assert answer["duplicate"] is False
    again = _ok(_hook(api, _envelope("messages.update.delivery")), "messages.update")
    assert again["duplicate"] is True


def test_a_status_after_the_send_moves_the_record_forward(api: Any, evolution: RequestsMock) -> None:
    sent = _send(api, evolution)
    answer = _ok(_hook(api, _envelope("messages.update.delivery")), "messages.update")
    assert answer["duplicate"] is False
    record = _message(api, sent["id"])
    assert (record["status"], _history(record)) == ("delivered", ["pending", "delivered"])


def test_the_byevents_suffix_route_works(api: Any) -> None:
    answer = _ok(
        _hook(api, _envelope("messages.upsert.text"), path="/webhook/messages-upsert"), "messages.upsert"
    )
    assert answer["duplicate"] is False
    assert len(_messages(api, "inbound")) == 1


# --- 2. duplicates and ordering ---


def test_the_same_message_twice_is_stored_once_and_the_second_is_a_duplicate(api: Any) -> None:
    body = _envelope("messages.upsert.text")
    first = _ok(_hook(api, body), "messages.upsert")
    second = _ok(_hook(api, body), "messages.upsert")
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert len(_messages(api)) == 1


def test_read_before_delivery_ends_at_read_and_history_never_goes_backward(
    api: Any, evolution: RequestsMock
) -> None:
    sent = _send(api, evolution)
    read = _ok(_hook(api, _envelope("messages.update.read")), "messages.update")
    delivered = _ok(_hook(api, _envelope("messages.update.delivery")), "messages.update")
    again = _ok(_hook(api, _envelope("messages.update.read")), "messages.update")
    confirm = _ok(_hook(api, _envelope("send.message")), "send.message")
    assert read["duplicate"] is False
    assert delivered["duplicate"] is True and again["duplicate"] is True and confirm["duplicate"] is True
    record = _message(api, sent["id"])
    assert record["status"] == "read"
    assert _history(record) == ["pending", "read"]
    _assert_monotonic(record)


@pytest.mark.parametrize("name", ["messages.upsert.text", "messages.upsert.fromMe", "messages.upsert.lid"])
def test_the_same_event_from_eight_threads_at_once_is_stored_exactly_once(
    service_env: Path, name: str
) -> None:
    from chalicelib.deps import get_store
    from chalicelib.services.webhooks import WebhookService, parse_envelope

    store = get_store()
    barrier = threading.Barrier(8)
    answers: list[dict[str, Any]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def deliver() -> None:
        try:
            event = parse_envelope(_envelope(name), received_at=datetime.now(UTC))
            barrier.wait(timeout=10)
            answer = WebhookService(store=store, instance=INSTANCE).handle(event)
            with lock:
                answers.append(answer)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    assert sorted(a["duplicate"] for a in answers) == [False] + [True] * 7
    page = store.list_messages(INSTANCE)
    assert len(page.items) == 1


# --- 3. reconciling a timed-out send ---


def test_send_message_reconciles_a_send_left_unknown_by_a_read_timeout(
    api: Any, evolution: RequestsMock
) -> None:
    evolution.post(SEND_TEXT, body=requests.exceptions.ReadTimeout("slow"))
    response = api.http.post(
        "/messages", headers=auth(), body=json.dumps({"to": "+5511999999999", "text": SENT_TEXT}).encode()
    )
    assert response.status_code == 504
    record_id = _json(response)["Details"][0]["id"]
    before = _message(api, record_id)
    assert (before["status"], before["message_id"]) == ("unknown", None)

    answer = _ok(_hook(api, _envelope("send.message")), "send.message")
    assert answer["duplicate"] is False
    after = _message(api, SENT_ID)
    assert after["id"] == record_id
    assert after["message_id"] == SENT_ID
    assert after["status"] in ("pending", "sent")
    _assert_monotonic(after)
    assert len(_messages(api)) == 1

    again = _ok(_hook(api, _envelope("send.message")), "send.message")
    assert again["duplicate"] is True
    assert len(_messages(api)) == 1


def test_send_message_with_other_text_does_not_claim_the_unknown_send(
    api: Any, evolution: RequestsMock
) -> None:
    evolution.post(SEND_TEXT, body=requests.exceptions.ReadTimeout("slow"))
    response = api.http.post(
        "/messages", headers=auth(), body=json.dumps({"to": "+5511999999999", "text": "Outro texto"}).encode()
    )
    record_id = _json(response)["Details"][0]["id"]
    _ok(_hook(api, _envelope("send.message")), "send.message")
    assert _message(api, record_id)["status"] == "unknown"
    assert api.http.get(f"/messages/{SENT_ID}", headers=auth()).status_code == 404


# --- 4. authentication ---


def _jwt(key: str = WEBHOOK_SECRET, *, age: int = 0, **claims: Any) -> str:
    now = int(time.time()) - age
    payload = {"app": "evolution", "action": "webhook", "iat": now, "exp": now + 600} | claims
    payload = {k: v for k, v in payload.items() if v is not None}  # None: leave the claim out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)  # the test secret is short
        return jwt.encode(payload, key, algorithm="HS256")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


HeaderMaker = Callable[[], dict[str, str]]
_SECRET_HEADER: dict[str, str] = {"X-Webhook-Secret": WEBHOOK_SECRET}


@pytest.mark.parametrize(
    ("case", "headers", "path", "status"),
    [
        ("right header", lambda: _SECRET_HEADER, "/webhook", 200),
        ("wrong header", lambda: {"X-Webhook-Secret": WEBHOOK_SECRET + "x"}, "/webhook", 401),
        ("secret prefix", lambda: {"X-Webhook-Secret": WEBHOOK_SECRET[:-1]}, "/webhook", 401),
        ("empty header", lambda: {"X-Webhook-Secret": ""}, "/webhook", 401),
        ("no credentials", dict, "/webhook", 401),
        ("query token", dict, f"/webhook?token={WEBHOOK_SECRET}", 200),
        ("wrong query token", dict, "/webhook?token=nope", 401),
        ("suffix route with header", lambda: _SECRET_HEADER, "/webhook/messages-upsert", 200),
        ("suffix route with query token", dict, f"/webhook/messages-upsert?token={WEBHOOK_SECRET}", 200),
        ("suffix route without credentials", dict, "/webhook/messages-upsert", 401),
        ("valid jwt", lambda: _bearer(_jwt()), "/webhook", 200),
        ("expired jwt", lambda: _bearer(_jwt(age=1200)), "/webhook", 401),
        ("forged jwt", lambda: _bearer(_jwt("another-key-entirely-0001")), "/webhook", 401),
        ("jwt without exp", lambda: _bearer(_jwt(exp=None)), "/webhook", 401),
        ("jwt without iat", lambda: _bearer(_jwt(iat=None)), "/webhook", 401),
        (
            "jwt good for years",
            lambda: _bearer(_jwt(exp=int(time.time()) + 5 * 365 * 86400)),
            "/webhook",
            401,
        ),
        ("jwt issued in an hour", lambda: _bearer(_jwt(age=-3600)), "/webhook", 401),
        ("jwt for another app", lambda: _bearer(_jwt(app="other")), "/webhook", 401),
        ("jwt for another action", lambda: _bearer(_jwt(action="login")), "/webhook", 401),
        ("the secret as a bearer", lambda: _bearer(WEBHOOK_SECRET), "/webhook", 401),
        ("garbage bearer", lambda: _bearer("not.a.jwt"), "/webhook", 401),
    ],
)
def test_the_webhook_secret_is_required_in_one_of_its_forms(
    api: Any, case: str, headers: HeaderMaker, path: str, status: int
) -> None:
    response = _hook(api, _envelope("messages.upsert.text"), headers=headers(), path=path)
    assert response.status_code == status, case
    if status == 401:
        assert _json(response)["Code"] == "Unauthorized"
        assert _messages(api) == [], "nothing is stored for an unauthenticated delivery"
    else:
        assert _json(response)["received"] is True
        assert len(_messages(api)) == 1


def test_an_unauthenticated_bad_body_is_401_not_400(api: Any) -> None:
    response = _hook(api, b"not json", headers={})
    assert response.status_code == 401
    assert _json(response)["Code"] == "Unauthorized"


# --- 5. bad input ---


@pytest.mark.parametrize("raw", [b"not json", b"{", b"", b"   ", b"\xff\xfe\x00"])
def test_a_body_that_is_not_json_is_400_bad_request(api: Any, raw: bytes) -> None:
    response = _hook(api, raw)
    assert response.status_code == 400
    assert _json(response)["Code"] == "BadRequestError"


@pytest.mark.parametrize(
    "body",
    [
        [],
        [{"event": "messages.upsert"}],
        "messages.upsert",
        42,
        None,
        {},
        {"instance": INSTANCE, "data": {}},
        {"event": "", "instance": INSTANCE, "data": {}},
        {"event": "   ", "instance": INSTANCE, "data": {}},
        {"event": 5, "instance": INSTANCE, "data": {}},
        {"event": "messages.upsert", "data": {}},
        {"event": "messages.upsert", "instance": INSTANCE, "data": "oops"},
        {"event": "messages.upsert", "instance": INSTANCE, "data": []},
        {"event": "messages.upsert", "instance": INSTANCE, "data": {"key": {}}},
        {"event": "messages.update", "instance": INSTANCE, "data": 7},
        {"event": "connection.update", "instance": INSTANCE, "data": {"state": None}},
        {"event": "send.message", "instance": INSTANCE, "data": None},
    ],
)
def test_json_that_is_not_an_envelope_is_400_validation_error(api: Any, body: Any) -> None:
    response = _hook(api, body)
    assert response.status_code == 400, response.body
    assert _json(response)["Code"] == "ValidationError"


_JSON_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=20)
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _JSON_TEXT
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_JSON_TEXT, inner, max_size=4),
    max_leaves=20,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> Any:
    body = copy.deepcopy(_envelope(draw(st.sampled_from(FIXTURES))))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(body) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    return body


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=JSON_VALUES | mutated_fixtures())
def test_any_json_body_is_answered_200_or_400_never_500(api: Any, body: Any) -> None:
    response = _hook(api, body)
    assert response.status_code in (200, 400), response.body
    payload = _json(response)
    if response.status_code == 400:
        assert payload["Code"] in ("BadRequestError", "ValidationError")
    else:
        assert payload["received"] is True


# --- 6. the apikey is never stored or logged ---


def test_the_apikey_is_never_stored_or_logged(
    api: Any, evolution: RequestsMock, service_env: Path, capsys: pytest.CaptureFixture[str], caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    assert APIKEYS, "the fixtures carry apikeys"
    _send(api, evolution)
    for name in FIXTURES:
        body = _envelope(name)
        _ok(_hook(api, body), body["event"])
        _ok(_hook(api, load_webhook(name)), body["event"])  # the other-instance path too
    from chalicelib.deps import get_store

    get_store().ping()
    files = [p for p in service_env.iterdir() if p.name.startswith("store.db")]
    assert any(p.name == "store.db" for p in files)
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    for apikey in APIKEYS:
        for path in files:
            assert apikey.encode() not in path.read_bytes(), f"{apikey} found in {path.name}"
        assert apikey not in logged


# --- 7. the store is down ---


def test_a_store_that_cannot_record_the_event_is_503_so_evolution_retries(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import deps

    monkeypatch.setenv("STORE_URL", "sqlite:////proc/nope/x.db")
    deps.reset()
    for name in ("messages.upsert.text", "messages.update.read", "send.message", "connection.update.open"):
        body = _envelope(name)
        response = _hook(api, body)
        assert response.status_code == 503, (name, response.body)
        assert _json(response)["Code"] == "StoreUnavailable"


def test_an_ignored_event_needs_no_store(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import deps

    monkeypatch.setenv("STORE_URL", "sqlite:////proc/nope/x.db")
    deps.reset()
    answer = _ok(_hook(api, _envelope("contacts.upsert")), "contacts.upsert")
    assert answer["ignored"] is True
