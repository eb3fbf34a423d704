"""`chalice local` alone, on a store the test seeded, with a webhook secret the test knows.

``tests/procs.py`` starts the simulator and the service together with secrets it keeps to itself;
the load test needs neither the simulator nor the connect flow, only the webhook secret, so it
starts the service with the same helpers.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.procs import free_port, start_process, stop_process, wait_for_port


@dataclass(frozen=True)
class Service:
    base_url: str
    api_key: str
    webhook_secret: str
    instance: str
    log: Path


@contextmanager
def chalice_local(workdir: Path, *, store_url: str, instance: str) -> Iterator[Service]:
    """Run `chalice local` on a free loopback port until the block ends."""
    port = free_port()
    api_key = "load-" + secrets.token_urlsafe(24)
    secret = secrets.token_urlsafe(48)  # ≥ 32 bytes: no short-HMAC-key warnings
    base_url = f"http://127.0.0.1:{port}"
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"ALERT_TOPIC_ARN", "DEFAULT_COUNTRY", "AUTO_RESTART", "SSM_PARAMETER_PREFIX"}
    }
    env |= {
        "PYTHONUNBUFFERED": "1",
        "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "us-east-1"),
        "EVOLUTION_API_URL": f"http://127.0.0.1:{free_port()}",  # never called by webhooks
        "EVOLUTION_API_KEY": secrets.token_urlsafe(24),
        "INSTANCE_NAME": instance,
        "API_KEYS": api_key,
        "WEBHOOK_SECRET": secret,
        "PUBLIC_BASE_URL": base_url,
        "STORE_URL": store_url,
        "STAGE": "dev",
        "LOG_LEVEL": "WARNING",
    }
    chalice = Path(sys.executable).parent / "chalice"
    log_path = workdir / "chalice-load.log"
    with ExitStack() as cleanup:
        log = cleanup.enter_context(log_path.open("wb"))
        process = start_process(
            [
                str(chalice) if chalice.exists() else "chalice",
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
        cleanup.callback(stop_process, process)
        wait_for_port(port, process, "chalice local", log_path)
        yield Service(base_url, api_key, secret, instance, log_path)
