"""A real `chalice local` process over the in-process Evolution simulator, for the fuzz suite."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO
from tests.procs import free_port, stop_process, wait_for_port

INSTANCE = "fuzz-whatsapp"
START_TIMEOUT_S = 60.0
# `chalice local`, unchanged but for TCP_NODELAY on its sockets: it writes headers and body in two
# sends, so Nagle + the client's delayed ACK would add 40 ms to every one of the fuzzer's requests.
CHALICE_LOCAL = """
import sys
from chalice.cli import main
from chalice.local import ChaliceRequestHandler
ChaliceRequestHandler.disable_nagle_algorithm = True
sys.argv = ["chalice", *sys.argv[1:]]
sys.exit(main())
"""


@dataclass(frozen=True)
class Live:
    """The running service: its URL and the credentials the fuzzer uses."""

    base_url: str
    api_key: str
    webhook_secret: str
    sim_url: str
    log: Path


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`chalice local` on a free loopback port, its Evolution the simulator, its session open."""
    from devtools.evolution_simulator.config import SimConfig
    from devtools.evolution_simulator.simulator import Simulator

    workdir = tmp_path_factory.mktemp("fuzz")
    evolution_key = secrets.token_urlsafe(24)
    api_key = "fuzz-" + secrets.token_urlsafe(24)
    webhook_secret = secrets.token_urlsafe(48)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    config = SimConfig(api_key=evolution_key, port=0, ack_delay_ms=20, webhook_backoff_initial_ms=50)
    with Simulator(config) as sim:
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in {"ALERT_TOPIC_ARN", "DEFAULT_COUNTRY", "AUTO_RESTART", "SSM_PARAMETER_PREFIX"}
        }
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "us-east-1"),
                "EVOLUTION_API_URL": sim.url,
                "EVOLUTION_API_KEY": evolution_key,
                "INSTANCE_NAME": INSTANCE,
                "API_KEYS": api_key,
                "WEBHOOK_SECRET": webhook_secret,
                "PUBLIC_BASE_URL": base_url,
                "STORE_URL": f"sqlite:///{workdir}/fuzz.db",
                "STAGE": "dev",
                "LOG_LEVEL": "WARNING",
                "EVOLUTION_CONNECT_TIMEOUT": "1",
                "EVOLUTION_READ_TIMEOUT": "3",
                "EVOLUTION_SEND_TIMEOUT": "3",
            }
        )
        log = workdir / "chalice.log"
        argv = ["local", "--stage", "dev", "--no-autoreload", "--host", "127.0.0.1", "--port", str(port)]
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 - our own tool, fixed arguments
                [sys.executable, "-c", CHALICE_LOCAL, *argv],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_for_port(port, process, "chalice local", log)
                _open_session(base_url, api_key, sim.url)
                _send_one(base_url, api_key)
                yield Live(base_url, api_key, webhook_secret, sim.url, log)
            finally:
                stop_process(process)


def _open_session(base_url: str, api_key: str, sim_url: str) -> None:
    """Create the instance through the service, then "scan" the QR on the simulator."""
    connect = requests.post(f"{base_url}/connect", headers={"Authorization": f"Bearer {api_key}"}, timeout=15)
    assert connect.status_code == 200, connect.text
    scan = requests.post(f"{sim_url}/_sim/instances/{INSTANCE}/scan", json={}, timeout=10)
    assert scan.status_code < 300, scan.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = requests.get(
            f"{base_url}/status", headers={"Authorization": f"Bearer {api_key}"}, timeout=10
        )
        if status.ok and status.json()["state"] == "open":
            return
        time.sleep(0.1)
    raise RuntimeError("the simulated WhatsApp session did not open")


def _send_one(base_url: str, api_key: str) -> None:
    """One real send, so lookups by id have something to find from the start."""
    sent = requests.post(
        f"{base_url}/messages",
        headers={"Authorization": f"Bearer {api_key}"},
        json={"to": "+5511999999999", "text": "fuzz seed"},
        timeout=15,
    )
    assert sent.status_code == 201, sent.text
