"""The session state machine: connect, QR, pairing code, scan, drop, restart, logout."""

from __future__ import annotations

import base64
import re
import struct
import zlib

import segno

from devtools.evolution_simulator import Simulator
from tests.conftest import load_webhook
from tests.simulator.conftest import Client, Receiver, make_config

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png(data_url: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert data_url.startswith(prefix)
    return base64.b64decode(data_url[len(prefix) :], validate=True)


def _png_modules(png: bytes, *, scale: int = 4, border: int = 3) -> list[list[bool]]:
    """Read segno's 1-bit palette PNG back into a module matrix (True = dark)."""
    chunks: dict[bytes, bytes] = {}
    position = len(PNG_SIGNATURE)
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        chunks[kind] = chunks.get(kind, b"") + png[position + 8 : position + 8 + length]
        position += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (1, 3)
    dark_index = 0 if chunks[b"PLTE"][:3] != b"\xff\xff\xff" else 1
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + (width + 7) // 8
    rows, previous = [], bytes(stride - 1)
    for y in range(height):
        kind, line = raw[y * stride], raw[y * stride + 1 : (y + 1) * stride]
        assert kind in {0, 2}  # filters "none" and "up" are all segno writes
        if kind == 2:
            line = bytes((a + b) % 256 for a, b in zip(line, previous, strict=True))
        previous = line
        rows.append([(line[x // 8] >> (7 - x % 8)) & 1 == dark_index for x in range(width)])
    size = width // scale - 2 * border
    return [
        [rows[(border + r) * scale + scale // 2][(border + c) * scale + scale // 2] for c in range(size)]
        for r in range(size)
    ]


def test_the_first_connect_gives_count_zero_and_the_next_a_real_qr_png(client: Client) -> None:
    client.create("acme")
    assert client.get("/instance/connect/acme").json() == {"count": 0}
    assert client.get("/instance/connectionState/acme").json() == {
        "instance": {"instanceName": "acme", "state": "connecting"}
    }
    qr = client.get("/instance/connect/acme").json()
    assert set(qr) == {"pairingCode", "code", "base64", "count"}
    assert qr["pairingCode"] is None
    assert qr["count"] == 1
    assert qr["code"].startswith("2@")
    png = _png(qr["base64"])
    assert png.startswith(PNG_SIGNATURE)
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert width == height
    assert width > 100
    expected = [[bool(m) for m in row] for row in segno.make(qr["code"], error="h").matrix]
    assert _png_modules(png) == expected  # a real, scannable QR of exactly this code


def test_connect_with_a_number_on_a_closed_session_asks_for_a_pairing_code(
    client: Client,
) -> None:
    client.create("acme")
    assert client.get("/instance/connect/acme", params={"number": "5511900000001"}).json() == {"count": 0}
    qr = client.get("/instance/connect/acme").json()
    assert re.fullmatch(r"[1-9A-HJ-NP-TV-Z]{8}", qr["pairingCode"])


def test_the_qr_birth_delivers_connecting_and_qrcode_updated_without_sender(
    client: Client, receiver: Receiver
) -> None:
    client.create("acme", webhook={"url": receiver.url, "events": []})
    client.get("/instance/connect/acme")
    qr_hit = receiver.wait_for_event("qrcode.updated")[0]
    connecting = receiver.wait_for_event("connection.update")[0]
    assert connecting.body["data"] == {"instance": "acme", "state": "connecting", "statusReason": 200}
    fixture = load_webhook("qrcode.updated")
    assert set(qr_hit.body) == set(fixture)
    assert "sender" not in qr_hit.body
    assert set(qr_hit.body["data"]["qrcode"]) == set(fixture["data"]["qrcode"])
    assert _png(qr_hit.body["data"]["qrcode"]["base64"]).startswith(PNG_SIGNATURE)


def test_scan_opens_the_session_and_delivers_connection_update_with_the_headers(
    client: Client, receiver: Receiver
) -> None:
    headers = {"x-shared-secret": "s3cret", "x-tenant": "acme"}
    client.create("acme", webhook={"url": receiver.url, "events": ["CONNECTION_UPDATE"], "headers": headers})
    client.get("/instance/connect/acme")
    scan = client.post("/_sim/instances/acme/scan", json={"number": "5511900000001", "profileName": "Acme"})
    assert scan.json() == {"instance": {"instanceName": "acme", "state": "open"}}
    hits = receiver.wait_for_event("connection.update", count=2)
    [opened] = [h for h in hits if h.body["data"]["state"] == "open"]  # delivery order is free
    assert opened.body["data"]["state"] == "open"
    assert opened.body["data"]["wuid"] == "5511900000001@s.whatsapp.net"
    assert opened.body["data"]["profileName"] == "Acme"
    assert opened.body["sender"] == "5511900000001@s.whatsapp.net"
    assert set(opened.body) == set(load_webhook("connection.update.open"))
    assert opened.body["apikey"] is None
    assert opened.headers["x-shared-secret"] == "s3cret"
    assert opened.headers["x-tenant"] == "acme"
    assert opened.body["date_time"].endswith("Z")
    assert client.get("/instance/connect/acme").json() == {
        "instance": {"instanceName": "acme", "state": "open"}
    }


def test_scanning_a_session_that_is_not_connecting_is_a_409(client: Client) -> None:
    client.create("acme")
    assert client.post("/_sim/instances/acme/scan").status_code == 409


def test_auto_scan_opens_the_session_after_the_configured_seconds(receiver: Receiver) -> None:
    with Simulator(make_config(auto_scan_after=0.2)) as sim:
        client = Client(sim)
        client.create("acme", webhook={"url": receiver.url, "events": ["CONNECTION_UPDATE"]})
        client.get("/instance/connect/acme")
        hits = receiver.wait_for_event("connection.update", count=2, timeout=3)
        assert [h.body["data"]["state"] for h in hits] == ["connecting", "open"]


def test_drop_closes_the_session_and_delivers_close_with_status_reason_401(
    client: Client, receiver: Receiver
) -> None:
    client.open_instance("acme", receiver)
    assert client.post("/_sim/instances/acme/drop").json()["instance"]["state"] == "close"
    hits = receiver.wait_for(
        lambda hs: any(
            h.body["data"].get("state") == "close" for h in hs if h.body["event"] == "connection.update"
        )
    )
    [close] = [h for h in hits if h.body["data"].get("state") == "close"]
    assert close.body["data"] == {"instance": "acme", "state": "close", "statusReason": 401}
    assert "sender" in close.body


def test_logout_of_an_open_session_succeeds_and_of_a_closed_one_is_400(client: Client) -> None:
    client.open_instance("acme")
    answer = client.delete("/instance/logout/acme")
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "SUCCESS",
        "error": False,
        "response": {"message": "Instance logged out"},
    }
    again = client.delete("/instance/logout/acme")
    assert again.status_code == 400
    assert again.json()["response"]["message"] == ['The "acme" instance is not connected']


def test_restart_never_fails_at_http_level(client: Client) -> None:
    client.create("acme")
    closed = client.post("/instance/restart/acme")
    assert closed.status_code == 200
    assert closed.json() == {"error": True, "message": "[object Object]"}
    client.open_instance("other")
    assert client.post("/instance/restart/other").json() == {
        "instance": {"instanceName": "other", "state": "open"}
    }


def test_the_qr_refreshes_until_the_limit_then_the_session_is_refused(
    receiver: Receiver,
) -> None:
    with Simulator(make_config(qr_refresh_seconds=0.05, qr_limit=2)) as sim:
        client = Client(sim)
        client.create("acme", webhook={"url": receiver.url, "events": []})
        client.get("/instance/connect/acme")
        # deliveries run in parallel: wait for the refusal and all three QR events, in any order
        hits = receiver.wait_for(
            lambda hs: (
                any(h.body["data"].get("state") == "refused" for h in hs)
                and sum(h.body["event"] == "qrcode.updated" for h in hs) >= 3
            )
        )
        qrs = [h.body["data"] for h in hits if h.body["event"] == "qrcode.updated"]
        assert len(qrs) == 3
        assert sum("qrcode" in q for q in qrs) == 2
        assert {"message": "QR code limit reached, please login again", "statusCode": 500} in qrs
        assert client.get("/instance/connectionState/acme").json()["instance"]["state"] == "close"


def test_a_cloud_api_instance_is_open_from_creation(client: Client) -> None:
    body = client.create("meta", integration="WHATSAPP-BUSINESS", token="EAAG", number="5511900000001")
    assert body["instance"]["status"] == "open"
    assert client.get("/instance/connect/meta").json()["instance"]["state"] == "open"
