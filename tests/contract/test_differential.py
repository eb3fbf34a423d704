"""One corpus of requests, sent to the real Evolution 2.3.7 and to the simulator, compared.

Status and body must be equal once ids, times, tokens and QR payloads are masked; a difference
passes only when the simulator's README allowlists that request, and an allowlisted request that
no longer differs fails too (the list must stay true).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from devtools.evolution_simulator import SimConfig, Simulator
from tests.contract.conftest import RealEvolution, summary_lines
from tests.contract.corpus import PLACEHOLDERS, Answer, Target, load_corpus, mask, send
from tests.procs import REPO

SIM_README = REPO / "devtools" / "evolution_simulator" / "README.md"
HOOK_URL = "http://127.0.0.1:9/hook"  # nothing listens: deliveries fail, which no entry depends on
MIN_CORPUS = 92

pytestmark = pytest.mark.contract


def allowlist(readme: Path = SIM_README) -> dict[str, str]:
    """The ```allowlist block of the simulator's README: ``corpus-id: why`` per line."""
    block = re.search(r"```allowlist\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)
    if block is None:
        return {}
    entries = {}
    for line in block.group(1).splitlines():
        if line.strip():
            key, _, why = line.partition(":")
            entries[key.strip()] = why.strip()
    return entries


def known_number() -> str:
    """A Brazilian mobile number (the only kind Evolution's IsOnWhatsapp lookup can match)."""
    return "55119" + "".join(secrets.choice("0123456789") for _ in range(7)) + "1"


def _names(known: str) -> dict[str, str]:
    prefix = "ct" + secrets.token_hex(4)
    names = {placeholder: f"{prefix}-{placeholder}" for placeholder in PLACEHOLDERS}
    names["known"] = known
    return names


def _run(target: Target, entries: list[dict[str, object]]) -> dict[str, Answer]:
    answers: dict[str, Answer] = {}
    with requests.Session() as session:
        try:
            for entry in entries:
                answers[str(entry["id"])] = send(session, entry, target)
        finally:
            for name in target.names.values():
                session.delete(
                    f"{target.base_url}/instance/delete/{name}",
                    headers={"apikey": target.api_key},
                    timeout=30,
                )
    return answers


@pytest.fixture
def simulator(real_evolution: RealEvolution) -> Iterator[Simulator]:
    """As the kit's server is configured: DATABASE_SAVE_IS_ON_WHATSAPP on; holds off (timing only)."""
    config = SimConfig(api_key=real_evolution.api_key, port=0, save_is_on_whatsapp=True)
    with Simulator(config) as simulator:
        yield simulator


@pytest.fixture
def known(real_evolution: RealEvolution) -> Iterator[str]:
    """A recipient in the real server's IsOnWhatsapp cache, as a chat with it would leave it."""
    number = known_number()
    without_nine = number[:4] + number[5:]
    row = f"ct{number}"
    real_evolution.sql(
        'INSERT INTO "IsOnWhatsapp" (id, "remoteJid", "jidOptions", "updatedAt") '
        "VALUES (:'row', :'jid', :'options', now());",
        row=row,
        jid=f"{number}@s.whatsapp.net",
        options=f"{number}@s.whatsapp.net,{without_nine}@s.whatsapp.net",
    )
    yield number
    real_evolution.sql("DELETE FROM \"IsOnWhatsapp\" WHERE id = :'row';", row=row)


def test_the_simulator_answers_the_corpus_as_the_real_server_does(
    real_evolution: RealEvolution, simulator: Simulator, known: str
) -> None:
    entries = load_corpus()
    allowed = allowlist()
    ids = {str(entry["id"]) for entry in entries}
    assert len(entries) >= MIN_CORPUS
    assert set(allowed) <= ids, f"allowlisted ids not in the corpus: {sorted(set(allowed) - ids)}"

    real = _run(Target("real", real_evolution.url, real_evolution.api_key, _names(known), HOOK_URL), entries)
    requests.post(f"{simulator.url}/_sim/on-whatsapp-cache", json={"numbers": [known]}, timeout=5)
    sim = _run(Target("sim", simulator.url, real_evolution.api_key, _names(known), HOOK_URL), entries)

    differing = {i for i in ids if (real[i].status, real[i].body) != (sim[i].status, sim[i].body)}
    identical = len(ids) - len(differing)
    line = f"{identical} of {len(ids)} identical, {len(differing & set(allowed))} allowlisted"
    summary_lines.append(f"differential: {line}")
    unexpected = sorted(differing - set(allowed))
    report = "\n".join(
        f"{i}:\n  real {real[i].status} {json.dumps(real[i].body, ensure_ascii=False)[:500]}"
        f"\n  sim  {sim[i].status} {json.dumps(sim[i].body, ensure_ascii=False)[:500]}"
        for i in unexpected
    )
    assert not unexpected, f"{line}; differences not allowlisted:\n{report}"
    stale = sorted(set(allowed) - differing)
    assert not stale, f"allowlisted but identical now (remove them from the README): {stale}"


class _Receiver(BaseHTTPRequestHandler):
    """Records each webhook delivery: path, the secret header, the JSON body."""

    deliveries: ClassVar[list[tuple[str, str | None, Any]]] = []

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.deliveries.append((self.path, self.headers.get("X-Webhook-Secret"), json.loads(raw or b"null")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, str | None, Any]]]]:
    handler = type("Receiver", (_Receiver,), {"deliveries": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler.deliveries
    server.shutdown()
    server.server_close()


def _session_events(target: Target, deliveries: list[tuple[str, str | None, Any]]) -> list[Any]:
    """Create with our webhook, connect, log out, delete: the connection.update deliveries, masked,
    with repeats of the same state folded (the real server reconnects every ~30 s while pairing)."""
    name = target.names["fresh"]
    headers = {"apikey": target.api_key}
    hook = {
        "url": target.hook_url,
        "events": ["CONNECTION_UPDATE", "QRCODE_UPDATED"],
        "headers": {"X-Webhook-Secret": "s"},
    }
    deliveries.clear()
    with requests.Session() as http:
        body = {"instanceName": name, "integration": "WHATSAPP-BAILEYS", "webhook": hook}
        assert (
            http.post(
                f"{target.base_url}/instance/create", json=body, headers=headers, timeout=30
            ).status_code
            == 201
        )
        try:
            http.get(f"{target.base_url}/instance/connect/{name}", headers=headers, timeout=30)
            time.sleep(1.0)
            http.delete(f"{target.base_url}/instance/logout/{name}", headers=headers, timeout=30)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(
                isinstance(d[2], dict) and d[2].get("data", {}).get("state") == "close" for d in deliveries
            ):
                time.sleep(0.1)
        finally:
            http.delete(f"{target.base_url}/instance/delete/{name}", headers=headers, timeout=30)
    events: list[Any] = []
    for path, secret, payload in list(deliveries):
        if payload.get("event") != "connection.update":
            continue  # qrcode.updated needs WhatsApp (the real server never has a QR)
        shown = (path, secret, mask(payload, target))
        if not events or events[-1] != shown:
            events.append(shown)
    return events


def test_connection_update_deliveries_match_the_real_servers(
    real_evolution: RealEvolution, receiver: tuple[str, list[tuple[str, str | None, Any]]]
) -> None:
    hook_url, deliveries = receiver
    # configured as the kit's server: the instance token in `apikey`, UTC times
    config = SimConfig(api_key=real_evolution.api_key, port=0, webhook_expose_apikey=True, tz_offset_hours=0)
    with Simulator(config) as simulator:
        real = _session_events(
            Target("real", real_evolution.url, real_evolution.api_key, _names(known_number()), hook_url),
            deliveries,
        )
        sim = _session_events(
            Target("sim", simulator.url, real_evolution.api_key, _names(known_number()), hook_url), deliveries
        )
    assert [event[2]["data"]["state"] for event in real] == ["connecting", "close"]
    assert sim == real
