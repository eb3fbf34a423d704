"""What the real Evolution 2.3.7 showed in the differential test, kept fast here: bodies,
media order, the IsOnWhatsapp cache, settings, create quirks, restart and the holds."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import pytest
import requests

from devtools.evolution_simulator import Simulator
from tests.simulator.conftest import Client, make_config

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
NUMBER = "5511987654321"


def _message(answer: requests.Response) -> object:
    return answer.json()["response"]["message"]


def test_urlencoded_and_multipart_bodies_are_read_like_json(client: Client) -> None:
    created = client.post(
        "/instance/create", data={"instanceName": "acme", "integration": "WHATSAPP-BAILEYS"}
    )
    assert created.status_code == 201, created.text
    client.get("/instance/connect/acme")
    client.post("/_sim/instances/acme/scan")
    text = client.post("/message/sendText/acme", data={"number": NUMBER, "text": "Olá"})
    assert text.status_code == 201 and text.json()["message"] == {"conversation": "Olá"}
    upload = client.post(
        "/message/sendMedia/acme",
        data={"number": NUMBER, "mediatype": "image"},
        files={"file": ("p.png", base64.b64decode(PNG), "image/png")},
    )
    assert upload.status_code == 201, upload.text
    sent = client.get("/_sim/sent").json()[-1]
    assert sent["body"] == {"number": NUMBER, "mediatype": "image"}  # the file is a part, not a field
    missing = client.post(
        "/message/sendMedia/acme", files={"number": (None, NUMBER), "mediatype": (None, "image")}
    )
    assert _message(missing) == ["Owned media must be a url or base64"]


def test_a_truncated_json_body_reads_as_nodes_end_of_input(client: Client) -> None:
    answer = client.post(
        "/instance/create", data=b'{"instanceName": ', headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert _message(answer) == "Unexpected end of JSON input"


def test_media_is_fetched_before_the_session_is_looked_at(client: Client) -> None:
    client.create("never")
    client.create("pairing", qrcode=True)
    dead = "http://127.0.0.1:9/photo.png"
    for name in ("never", "pairing"):
        url = client.post(
            f"/message/sendMedia/{name}", json={"number": NUMBER, "mediatype": "image", "media": dead}
        )
        assert (url.status_code, _message(url)) == (500, ["Error: connect ECONNREFUSED 127.0.0.1:9"])
        audio = client.post(f"/message/sendWhatsAppAudio/{name}", json={"number": NUMBER, "audio": dead})
        assert (audio.status_code, _message(audio)) == (500, "connect ECONNREFUSED 127.0.0.1:9")
    never = client.post(
        "/message/sendMedia/never", json={"number": NUMBER, "mediatype": "image", "media": PNG}
    )
    assert _message(never) == ["TypeError: Cannot read properties of undefined (reading 'waUploadToServer')"]
    pairing = client.post(
        "/message/sendMedia/pairing", json={"number": NUMBER, "mediatype": "image", "media": PNG}
    )
    assert (pairing.status_code, _message(pairing)) == (500, ["Error: Connection Closed"])


@pytest.fixture
def cached() -> Iterator[Client]:
    with Simulator(make_config(save_is_on_whatsapp=True)) as simulator:
        client = Client(simulator)
        yield client
        client.session.close()


def test_a_cached_recipient_skips_the_check_and_fails_later_with_a_400_list(cached: Client) -> None:
    known, foreign = "5511912345678", "447700900123"
    assert cached.post("/_sim/on-whatsapp-cache", json={"numbers": [known, foreign]}).status_code == 200
    cached.create("never")
    cached.create("pairing", qrcode=True)
    cached.open_instance("dropped")
    cached.post("/_sim/instances/dropped/drop")
    expected = {
        "never": ["TypeError: Cannot read properties of undefined (reading 'sendMessage')"],
        "pairing": ["TypeError: Cannot read properties of undefined (reading 'id')"],
        "dropped": ["Error: Connection Closed"],
    }
    for name, message in expected.items():
        answer = cached.send_text(name, known)
        assert (answer.status_code, _message(answer)) == (400, message)
    foreign_answer = cached.send_text("pairing", foreign)  # Evolution's cache never matches other countries
    assert (foreign_answer.status_code, _message(foreign_answer)) == (500, "Connection Closed")
    numbers = cached.post("/chat/whatsappNumbers/pairing", json={"numbers": [known]})
    assert numbers.status_code == 200 and numbers.json()[0]["exists"] is True


def test_settings_are_found_set_and_validated(client: Client) -> None:
    client.create("acme")
    assert client.get("/settings/find/acme").json()["rejectCall"] is False
    wanted = {
        "rejectCall": True,
        "groupsIgnore": True,
        "alwaysOnline": False,
        "readMessages": False,
        "readStatus": False,
        "syncFullHistory": False,
        "msgCall": "busy",
    }
    answer = client.post("/settings/set/acme", json=wanted)
    assert answer.status_code == 201
    assert answer.json() == {"settings": {"instanceName": "acme", "settings": wanted}}
    assert client.get("/settings/find/acme").json()["msgCall"] == "busy"
    bad = client.post("/settings/set/acme", json={**wanted, "rejectCall": "yes"})
    assert (bad.status_code, _message(bad)) == (400, [["rejectCall is not of a type(s) boolean"]])
    row = client.get("/instance/fetchInstances", params={"instanceName": "acme"}).json()[0]
    assert {"createdAt", "updatedAt", "instanceId"} <= set(row["Setting"])


def test_the_create_guard_runs_before_validation(client: Client) -> None:
    client.create("acme")
    nameless = client.post("/instance/create", json={"integration": "WHATSAPP-BAILEYS"})
    assert (nameless.status_code, _message(nameless)) == (403, ['This name "undefined" is already in use.'])
    numeric = client.post("/instance/create", json={"instanceName": 123, "integration": "WHATSAPP-BAILEYS"})
    assert numeric.status_code == 500
    assert _message(numeric)[0].startswith("PrismaClientValidationError")


def test_string_webhook_events_are_kept_as_given(client: Client) -> None:
    client.create("acme", webhook={"url": "http://127.0.0.1:9/hook", "events": "CONNECTION_UPDATE"})
    assert client.get("/webhook/find/acme").json()["events"] == "CONNECTION_UPDATE"


def test_restart_of_a_pairing_session_reads_close_then_connecting_again(client: Client) -> None:
    client.create("acme", qrcode=True)
    assert client.post("/instance/restart/acme").status_code == 200
    assert client.get("/instance/connectionState/acme").json()["instance"]["state"] == "close"
    deadline = time.monotonic() + 3
    while client.get("/instance/connectionState/acme").json()["instance"]["state"] != "connecting":
        assert time.monotonic() < deadline, "the session never reconnected"
        time.sleep(0.05)


def test_the_root_reports_a_whatsapp_web_version(client: Client) -> None:
    assert client.get("/").json()["whatsappWebVersion"].startswith("2.3000.")


def test_real_holds_delay_create_and_connect_and_answer_the_qr_of_that_moment() -> None:
    config = make_config(real_holds=True, create_hold_seconds=0.4, connect_hold_seconds=0.3)
    with Simulator(config) as simulator:
        client = Client(simulator)
        started = time.monotonic()
        created = client.create("held", qrcode=True)
        assert time.monotonic() - started >= 0.4
        assert created["qrcode"]["count"] == 1 and created["qrcode"]["base64"].startswith("data:image/png")
        client.create("closed")
        started = time.monotonic()
        answer = client.get("/instance/connect/closed").json()
        assert time.monotonic() - started >= 0.3
        assert answer["count"] == 1
        client.session.close()


def test_the_last_qr_is_answered_again_after_a_logout_until_a_new_one_is_born(client: Client) -> None:
    first = client.create("acme", qrcode=True)["qrcode"]
    assert client.delete("/instance/logout/acme").status_code == 200
    again = client.get("/instance/connect/acme").json()
    assert (again["code"], again["count"]) == (first["code"], first["count"])
    newer = client.get("/instance/connect/acme").json()
    assert newer["code"] != first["code"] and newer["count"] == 1
