"""Pushed events over real processes: a reply typed on the simulated phone reaches a loopback
sink signed; a service killed between the store write and the delivery delivers after restart."""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.conftest import load_webhook
from tests.procs import Stack, free_port, start_process, stop_process, wait_for, wait_for_port
from tests.sink import running_sink

pytestmark = pytest.mark.e2e


def test_a_reply_arrives_at_the_sink_signed_with_the_destinations_secret(connected: Stack) -> None:
    text = f"Gracias {uuid.uuid4().hex[:8]}"
    with running_sink() as sink:
        created = connected.api(
            "POST", "/event-destinations", json={"url": sink.url, "events": ["message.received"]}
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        try:
            connected.sim(
                "POST",
                f"/instances/{connected.instance}/inbound",
                json={"kind": "text", "from": "5511977776666", "text": text, "pushName": "Ana"},
            ).raise_for_status()

            def received() -> dict[str, Any] | None:
                for request in list(sink.received):
                    event = Webhook(secret).verify(request.body, request.headers)
                    if event["data"].get("text") == text:
                        return dict(event)
                return None

            event = wait_for(received, timeout=15, what="the signed message.received event")
        finally:
            connected.api("DELETE", f"/event-destinations/{created.json()['id']}")

    assert event["type"] == "message.received"
    assert event["data"] == connected.api("GET", f"/messages/{event['data']['id']}").json()


def _service(workdir: Path, port: int, env: dict[str, str], log_name: str) -> Any:
    log = (workdir / log_name).open("wb")
    chalice = Path(sys.executable).parent / "chalice"
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
    wait_for_port(port, process, "chalice local", workdir / log_name)
    return process, log


def test_an_event_written_before_a_crash_is_delivered_after_the_restart(tmp_path: Path) -> None:
    port = free_port()
    api_key = "e2e-" + secrets.token_urlsafe(24)
    webhook_secret = secrets.token_urlsafe(48)
    env = {k: v for k, v in os.environ.items() if k not in {"SSM_PARAMETER_PREFIX", "JOBS_QUEUE_URL"}}
    env |= {
        "PYTHONUNBUFFERED": "1",
        "EVOLUTION_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: not needed here
        "EVOLUTION_API_KEY": secrets.token_urlsafe(24),
        "INSTANCE_NAME": "crash-test",
        "API_KEYS": api_key,
        "WEBHOOK_SECRET": webhook_secret,
        "EVENTS_SIGNING_KEY": secrets.token_urlsafe(32),
        "STORE_URL": f"sqlite:///{tmp_path}/crash.db",
        "STAGE": "dev",
        "LOCAL_WORKER": "false",  # the first life never delivers: as if it died right after the write
    }
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {api_key}"}
    hook = load_webhook("messages.upsert.text") | {"instance": "crash-test"}
    with running_sink() as sink:
        first, first_log = _service(tmp_path, port, env, "first.log")
        try:
            created = requests.post(
                f"{base}/event-destinations", json={"url": sink.url}, headers=headers, timeout=10
            )
            assert created.status_code == 201, created.text
            answer = requests.post(
                f"{base}/webhook", json=hook, headers={"X-Webhook-Secret": webhook_secret}, timeout=10
            )
            assert answer.status_code == 200 and answer.json()["duplicate"] is False, answer.text
        finally:
            first.send_signal(signal.SIGKILL)  # no shutdown, no flush: the outbox row is all there is
            first.wait(10)
            first_log.close()
        assert sink.received == []

        second, second_log = _service(tmp_path, port, env | {"LOCAL_WORKER": "true"}, "second.log")
        try:
            assert requests.get(f"{base}/health", timeout=10).status_code in (200, 503)  # first use
            wait_for(lambda: sink.answered(204), timeout=15, what="the event after the restart")
            deliveries = requests.get(
                f"{base}/event-destinations/{created.json()['id']}/deliveries", headers=headers, timeout=10
            ).json()["items"]
        finally:
            stop_process(second)
            second_log.close()

    (request,) = sink.received
    event = Webhook(created.json()["secret"]).verify(request.body, request.headers)
    assert event["type"] == "message.received"
    assert json.loads(request.body)["instance"] == "crash-test"
    assert [(d["event_id"], d["status"]) for d in deliveries] == [(event["id"], "delivered")]


def test_eight_concurrent_posts_of_the_same_webhook_deliver_one_event(stack: Stack) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.procs import INSTANCE

    message_id = "3AE2E" + uuid.uuid4().hex[:15].upper()
    hook = load_webhook("messages.upsert.text") | {"instance": INSTANCE}
    hook["data"]["key"]["id"] = message_id
    secret_header = {"X-Webhook-Secret": stack.webhook_secret}
    with running_sink() as sink:
        created = stack.api(
            "POST", "/event-destinations", json={"url": sink.url, "events": ["message.received"]}
        )
        assert created.status_code == 201, created.text
        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                answers = list(
                    pool.map(
                        lambda _: requests.post(
                            f"{stack.base_url}/webhook", json=hook, headers=secret_header, timeout=15
                        ),
                        range(8),
                    )
                )
            wait_for(
                lambda: [r for r in sink.answered(204) if message_id.encode() in r.body],
                timeout=15,
                what="the event",
            )
            time.sleep(1)  # room for a second delivery, were there one
        finally:
            stack.api("DELETE", f"/event-destinations/{created.json()['id']}")

    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 7
    assert len([r for r in sink.received if message_id.encode() in r.body]) == 1
