"""The Evolution client: paths, bodies valid against Evolution's schemas, timeouts, retry policy."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from collections.abc import Iterator

import pytest
import responses
from responses import matchers

from chalicelib.evolution import errors as evo
from chalicelib.evolution.client import EvolutionClient
from chalicelib.evolution.wire import WebhookConfig
from tests.conftest import validate_evolution_body
from tests.procs import free_port

BASE = "http://evolution.test"
SENT = {
    "key": {"remoteJid": "5511999999999@s.whatsapp.net", "fromMe": True, "id": "3EB0C0BD05DCA97A7C09CB"},
    "status": "PENDING",
    "message": {"conversation": "Hola"},
    "messageType": "conversation",
    "messageTimestamp": 1765377525,
}


@pytest.fixture
def client() -> EvolutionClient:
    return EvolutionClient(BASE, "evo-key", connect_timeout=0.5, read_timeout=1.0, send_timeout=1.0)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def _last_body(mocked: responses.RequestsMock) -> object:
    body = mocked.calls[-1].request.body
    assert body is not None
    return json.loads(body)


# -- every send: the right path, Evolution's field names, a body valid against its schema ----------


def test_send_text_posts_a_schema_valid_body_with_quote_delay_and_preview(
    client: EvolutionClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(
        f"{BASE}/message/sendText/acme%20one",
        json=SENT,
        status=201,
        match=[matchers.header_matcher({"apikey": "evo-key"})],
    )
    sent = client.send_text(
        "acme one", "5511999999999", "Hola", delay_ms=1200, link_preview=False, quoted_id="3EB0AAA"
    )
    body = _last_body(mocked)
    validate_evolution_body("sendText", body)
    assert body == {
        "number": "5511999999999",
        "text": "Hola",
        "delay": 1200,
        "linkPreview": False,
        "quoted": {"key": {"id": "3EB0AAA"}},
    }
    assert sent.message_id == "3EB0C0BD05DCA97A7C09CB"
    assert sent.remote_jid == "5511999999999@s.whatsapp.net"
    assert sent.status == "PENDING"


def test_send_media_uses_mediatype_media_and_file_name(
    client: EvolutionClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{BASE}/message/sendMedia/acme", json=SENT, status=201)
    client.send_media(
        "acme",
        "5511999999999",
        mediatype="document",
        media="JVBERi0xLjQK",
        mimetype="application/pdf",
        caption="CV",
        file_name="cv.pdf",
    )
    body = _last_body(mocked)
    validate_evolution_body("sendMedia", body)
    assert body == {
        "number": "5511999999999",
        "mediatype": "document",
        "media": "JVBERi0xLjQK",
        "mimetype": "application/pdf",
        "caption": "CV",
        "fileName": "cv.pdf",
    }


def test_send_audio_location_reaction_and_template_bodies_validate(
    client: EvolutionClient, mocked: responses.RequestsMock
) -> None:
    for kind in ("sendWhatsAppAudio", "sendLocation", "sendReaction", "sendTemplate"):
        mocked.post(f"{BASE}/message/{kind}/acme", json=SENT, status=201)
    client.send_audio("acme", "5511999999999", "https://files.test/a.ogg")
    validate_evolution_body("sendWhatsAppAudio", body := _last_body(mocked))
    assert body == {"number": "5511999999999", "audio": "https://files.test/a.ogg"}
    client.send_location(
        "acme", "5511999999999", latitude=-23.55, longitude=-46.63, name="Oficina", address="Av. Paulista"
    )
    validate_evolution_body("sendLocation", body := _last_body(mocked))
    assert body == {
        "number": "5511999999999",
        "latitude": -23.55,
        "longitude": -46.63,
        "name": "Oficina",
        "address": "Av. Paulista",
    }
    client.send_reaction(
        "acme", message_id="3EB0X", remote_jid="5511999999999@s.whatsapp.net", from_me=False, emoji="👍"
    )
    validate_evolution_body("sendReaction", body := _last_body(mocked))
    assert body == {
        "key": {"id": "3EB0X", "remoteJid": "5511999999999@s.whatsapp.net", "fromMe": False},
        "reaction": "👍",
    }
    components = [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]
    client.send_template(
        "acme", "5511999999999", name="interview_reminder_v1", language="es", components=components
    )
    validate_evolution_body("sendTemplate", body := _last_body(mocked))
    assert body == {
        "number": "5511999999999",
        "name": "interview_reminder_v1",
        "language": "es",
        "components": components,
    }


def test_management_bodies_validate_and_use_evolution_names(
    client: EvolutionClient, mocked: responses.RequestsMock
) -> None:
    config = WebhookConfig(
        url="https://svc.test/webhook", events=["MESSAGES_UPSERT"], headers={"X-Webhook-Secret": "s"}
    )
    mocked.post(f"{BASE}/instance/create", json={"instance": {"instanceName": "acme"}}, status=201)
    mocked.post(f"{BASE}/webhook/set/acme", json={"id": "w1"}, status=201)
    client.create_instance("acme", webhook=config)
    body = _last_body(mocked)
    validate_evolution_body("instanceCreate", body)
    assert body == {
        "instanceName": "acme",
        "integration": "WHATSAPP-BAILEYS",
        "qrcode": True,
        "webhook": {
            "enabled": True,
            "url": "https://svc.test/webhook",
            "events": ["MESSAGES_UPSERT"],
            "headers": {"X-Webhook-Secret": "s"},
            "byEvents": False,
            "base64": False,
        },
    }
    client.set_webhook("acme", config)
    validate_evolution_body("webhook", body := _last_body(mocked))
    assert body["webhook"]["url"] == "https://svc.test/webhook"  # type: ignore[index]


def test_connect_reads_qr_pairing_code_count_zero_and_open(
    client: EvolutionClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/instance/connect/acme", json={"count": 0})
    mocked.get(
        f"{BASE}/instance/connect/acme",
        json={"pairingCode": "WZYEH1YY", "code": "2@abc", "base64": "data:image/png;base64,iVBO", "count": 1},
        match=[matchers.query_param_matcher({"number": "5511999999999"})],
    )
    mocked.get(f"{BASE}/instance/connect/acme", json={"instance": {"instanceName": "acme", "state": "open"}})
    pending = client.connect("acme")
    assert (pending.state, pending.qr_code, pending.attempt) == ("connecting", None, 0)
    paired = client.connect("acme", number="5511999999999")
    assert paired.qr_code == "data:image/png;base64,iVBO"
    assert paired.pairing_code == "WZYEH1YY"
    assert client.connect("acme").state == "open"


def test_connect_error_hidden_in_a_200_is_raised(
    client: EvolutionClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/instance/connect/acme", json={"error": True, "message": "Connection Closed"})
    with pytest.raises(evo.EvolutionNotConnectedError):
        client.connect("acme")


def test_state_logout_fetch_and_find_webhook(client: EvolutionClient, mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/instance/connectionState/acme", json={"instance": {"instanceName": "acme", "state": "open"}}
    )
    mocked.delete(
        f"{BASE}/instance/logout/acme",
        json={"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}},
    )
    mocked.get(
        f"{BASE}/instance/fetchInstances",
        json=[{"name": "acme", "integration": "WHATSAPP-BAILEYS", "token": "t"}],
        match=[matchers.query_param_matcher({"instanceName": "acme"})],
    )
    assert client.connection_state("acme") == "open"
    assert client.logout("acme")["status"] == "SUCCESS"
    assert client.fetch_instances("acme")[0]["integration"] == "WHATSAPP-BAILEYS"


# -- retry policy --------------------------------------------------------------------------------


def test_a_get_503_is_retried_then_succeeds(client: EvolutionClient, mocked: responses.RequestsMock) -> None:
    url = f"{BASE}/instance/connectionState/acme"
    mocked.get(url, json={"response": {"message": "busy"}}, status=503)
    mocked.get(url, json={"instance": {"state": "open"}})
    assert client.connection_state("acme") == "open"
    assert len(mocked.calls) == 2


def test_a_get_429_with_a_long_retry_after_is_passed_on_not_slept(
    client: EvolutionClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/instance/connectionState/acme", status=429, headers={"Retry-After": "60"}, body="")
    started = time.monotonic()
    with pytest.raises(evo.EvolutionRateLimitError) as caught:
        client.connection_state("acme")
    assert caught.value.retry_after == 60
    assert len(mocked.calls) == 1
    assert time.monotonic() - started < 1


def test_a_send_answered_503_is_not_retried(client: EvolutionClient, mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/message/sendText/acme", json={"code": "LICENSE_REQUIRED"}, status=503)
    with pytest.raises(evo.EvolutionUnavailableError):
        client.send_text("acme", "5511999999999", "Hola")
    assert len(mocked.calls) == 1


# -- real sockets on loopback: timeouts and connect errors ----------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str]
    delay: float = 0.0

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(self.delay)
        with contextlib.suppress(OSError):  # the client may have given up already
            self._answer()

    do_GET = do_POST  # noqa: N815

    def _answer(self) -> None:
        payload = json.dumps(SENT if "/message/" in self.path else {"instance": {"state": "open"}}).encode()
        self.send_response(201 if "/message/" in self.path else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


def _serve(port: int, *, delay: float, hits: list[str]) -> http.server.ThreadingHTTPServer:
    handler = type("Handler", (_Recorder,), {"hits": hits, "delay": delay})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_read_timeout_on_a_send_is_not_retried_and_says_it_may_have_reached() -> None:
    hits: list[str] = []
    port = free_port()
    server = _serve(port, delay=1.5, hits=hits)
    try:
        client = EvolutionClient(f"http://127.0.0.1:{port}", "k", connect_timeout=0.5, send_timeout=0.3)
        with pytest.raises(evo.EvolutionTimeoutError) as caught:
            client.send_text("acme", "5511999999999", "Hola")
        assert evo.send_fate(caught.value) == "maybe_sent"
        assert hits == ["/message/sendText/acme"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_refused_connection_is_a_connect_error_that_never_reached() -> None:
    client = EvolutionClient(f"http://127.0.0.1:{free_port()}", "k", connect_timeout=0.5)
    with pytest.raises(evo.EvolutionConnectError) as caught:
        client.send_text("acme", "5511999999999", "Hola")
    assert evo.send_fate(caught.value) == "not_sent"


def test_a_connect_error_is_retried_and_the_send_then_succeeds_once() -> None:
    """The server comes up between the first refused attempts and the backed-off retry."""
    hits: list[str] = []
    port = free_port()
    holder: dict[str, http.server.ThreadingHTTPServer] = {}
    timer = threading.Timer(0.1, lambda: holder.setdefault("server", _serve(port, delay=0, hits=hits)))
    timer.start()
    try:
        client = EvolutionClient(f"http://127.0.0.1:{port}", "k", connect_timeout=0.5)
        sent = client.send_text("acme", "5511999999999", "Hola")
        assert sent.message_id == SENT["key"]["id"]  # type: ignore[index]
        assert hits == ["/message/sendText/acme"], "sent exactly once"
    finally:
        timer.join()
        holder["server"].shutdown()
        holder["server"].server_close()


def test_a_delay_extends_the_read_timeout_beyond_the_delay() -> None:
    hits: list[str] = []
    port = free_port()
    server = _serve(port, delay=0.6, hits=hits)
    try:
        client = EvolutionClient(f"http://127.0.0.1:{port}", "k", send_timeout=0.2)
        assert client.send_text("acme", "5511999999999", "Hola", delay_ms=500).message_id
    finally:
        server.shutdown()
        server.server_close()
