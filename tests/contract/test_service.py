"""The service (``chalice local``) against the real Evolution 2.3.7: connect creates the instance
and registers our webhook, real ``connection.update`` deliveries reach ``/webhook``, sends to the
session that is not open get API.md's codes, disconnect is idempotent, and /connect stays far
inside API Gateway's 29 s with the real server's holds."""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.contract.conftest import RealEvolution, summary_lines
from tests.contract.helpers import PNG_1X1, delete_instance, unique
from tests.procs import free_port, start_process, stop_process, wait_for, wait_for_port

pytestmark = pytest.mark.contract
GATEWAY_BUDGET_S = 29.0


@dataclass
class Service:
    url: str
    api_key: str
    instance: str
    db: Path
    log: Path

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        timeout = kwargs.pop("timeout", GATEWAY_BUDGET_S)
        headers = {"Authorization": f"Bearer {self.api_key}", **kwargs.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, timeout=timeout, **kwargs)

    def stored_state(self) -> str | None:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            row = db.execute("SELECT data FROM instances WHERE instance = ?", (self.instance,)).fetchone()
        return json.loads(row[0]).get("state") if row else None

    def webhook_hits(self) -> list[dict[str, Any]]:
        hits = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"route":"/webhook' in line.replace(" ", ""):
                hits.append(json.loads(line))
        return hits


@pytest.fixture(scope="module")
def service(real_evolution: RealEvolution, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("contract-service")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    instance = unique("service")
    api_key = "ct-" + secrets.token_urlsafe(24)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "PYTHONUNBUFFERED": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "EVOLUTION_API_URL": real_evolution.url,
        "EVOLUTION_API_KEY": real_evolution.api_key,
        "INSTANCE_NAME": instance,
        "API_KEYS": api_key,
        "WEBHOOK_SECRET": secrets.token_urlsafe(48),
        "PUBLIC_BASE_URL": url,
        "STORE_URL": f"sqlite:///{workdir}/service.db",
        "STAGE": "dev",
        "LOG_LEVEL": "INFO",
    }
    chalice = Path(sys.executable).parent / "chalice"
    log_path = workdir / "chalice.log"
    with ExitStack() as cleanup, log_path.open("wb") as log:
        process = start_process(
            [
                str(chalice),
                "local",
                "--stage",
                "dev",
                "--no-autoreload",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env,
            log,
        )
        cleanup.callback(delete_instance, real_evolution, instance)
        cleanup.callback(stop_process, process)
        wait_for_port(port, process, "chalice local", log_path)
        yield Service(url, api_key, instance, workdir / "service.db", log_path)


def _timed(service: Service, method: str, path: str, **kwargs: Any) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = service.call(method, path, **kwargs)
    return response, time.monotonic() - started


def test_connect_creates_the_instance_registers_the_webhook_and_says_no_qr_yet(
    service: Service, real_evolution: RealEvolution
) -> None:
    first, first_s = _timed(service, "POST", "/connect")
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["state"], body["qr_code"], body["qr_status"]) == ("connecting", None, "pending")
    assert "no QR code yet" in body["reason"]
    again, again_s = _timed(service, "POST", "/connect")
    assert again.status_code == 200 and again.json()["state"] == "connecting"
    phone, phone_s = _timed(service, "POST", "/connect", json={"phone": "+5511999990001"})
    assert phone.status_code == 200 and phone.json()["qr_status"] == "pending"
    summary_lines.append(
        f"service: POST /connect first {first_s:.1f} s, pairing {again_s:.1f} s, with a phone {phone_s:.1f} s "
        f"(API Gateway budget {GATEWAY_BUDGET_S:.0f} s)"
    )
    assert max(first_s, again_s, phone_s) < GATEWAY_BUDGET_S / 2

    hook = requests.get(
        f"{real_evolution.url}/webhook/find/{service.instance}",
        headers={"apikey": real_evolution.api_key},
        timeout=10,
    ).json()
    assert hook["url"] == service.url + "/webhook"
    assert hook["enabled"] is True
    assert {"CONNECTION_UPDATE", "MESSAGES_UPSERT", "MESSAGES_UPDATE", "SEND_MESSAGE"} <= set(hook["events"])
    assert set(hook["headers"]) == {"X-Webhook-Secret"}


def test_real_connection_updates_reach_the_webhook_and_status_follows(service: Service) -> None:
    assert service.call("POST", "/connect").status_code == 200
    wait_for(service.webhook_hits, timeout=20, what="a connection.update delivery to /webhook")
    assert all(hit["status"] == 200 for hit in service.webhook_hits())
    assert service.call("GET", "/status").json()["state"] == "connecting"

    before = len(service.webhook_hits())
    disconnected = service.call("POST", "/disconnect")
    assert disconnected.status_code == 200, disconnected.text
    assert disconnected.json()["was_connected"] is False  # it was pairing, never open
    wait_for(lambda: len(service.webhook_hits()) > before, timeout=20, what="the close delivered to /webhook")
    assert service.webhook_hits()[-1]["status"] == 200
    assert service.stored_state() == "close"
    assert service.call("GET", "/status").json() == {
        "instance": service.instance,
        "state": "close",
        "connected": False,
    }


def test_disconnect_is_idempotent(service: Service) -> None:
    for _ in range(2):
        answer = service.call("POST", "/disconnect")
        assert answer.status_code == 200, answer.text
        assert answer.json() | {"was_connected": None} == {
            "instance": service.instance,
            "state": "close",
            "disconnected": True,
            "was_connected": None,
        }


@pytest.mark.parametrize(
    "content",
    [
        {"text": "Hola"},
        {
            "location": {
                "latitude": -23.55,
                "longitude": -46.63,
                "name": "Oficina",
                "address": "Av. Paulista 1000",
            }
        },
        {"media": {"type": "image", "base64": PNG_1X1}},
        {
            "media": {
                "type": "document",
                "base64": base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode(),
                "filename": "a.pdf",
            }
        },
    ],
    ids=["text", "location", "image", "document"],
)
def test_sends_to_the_closed_session_are_503_instance_disconnected(
    service: Service, content: dict[str, Any]
) -> None:
    service.call("POST", "/disconnect")
    answer = service.call(
        "POST",
        "/messages",
        json={"to": "+5511987654321", **content},
        headers={"Idempotency-Key": "ct-" + secrets.token_hex(8)},
    )
    assert answer.status_code == 503, answer.text
    assert answer.json()["Code"] == "InstanceDisconnected"
    assert int(answer.headers["Retry-After"]) > 0


def test_a_send_while_pairing_is_503_and_the_same_key_can_send_later(service: Service) -> None:
    assert service.call("POST", "/connect").status_code == 200
    key = {"Idempotency-Key": "ct-" + secrets.token_hex(8)}
    body = {"to": "+5511987654321", "text": "Hola"}
    for _ in range(2):  # nothing was sent, so the key is released: the retry is a new attempt, not a replay
        answer = service.call("POST", "/messages", json=body, headers=key)
        assert answer.status_code == 503, answer.text
        assert "Idempotent-Replayed" not in answer.headers
