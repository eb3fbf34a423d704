"""Real local processes for the e2e and browser suites: the Evolution simulator and `chalice local`.

Both listen on loopback ports picked free at run time. One stack serves the whole pytest session,
however many conftests ask for it (``shared_stack``), and is stopped at the session's end.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
import requests

REPO = Path(__file__).resolve().parents[1]
INSTANCE = "e2e-whatsapp"
START_TIMEOUT_S = 60.0
SEND_TIMEOUT_S = 1  # EVOLUTION_SEND_TIMEOUT: short, so a latency fault times a send out quickly
ACK_DELAY_MS = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Stack:
    """The running pair, with small helpers to call each of them."""

    base_url: str
    sim_url: str
    api_key: str
    instance: str
    logs: Path
    webhook_secret: str = ""
    http: requests.Session = field(default_factory=requests.Session)

    def api(self, method: str, path: str, *, key: str | None = None, **kwargs: Any) -> requests.Response:
        """A call to the service, authenticated with the API key unless ``key`` says otherwise."""
        headers = {"Authorization": f"Bearer {key or self.api_key}", **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 15)
        return self.http.request(method, self.base_url + path, headers=headers, **kwargs)

    def sim(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A call to the simulator's ``/_sim/`` control API."""
        kwargs.setdefault("timeout", 10)
        return self.http.request(method, self.sim_url + "/_sim" + path, **kwargs)

    def log_tail(self, lines: int = 40) -> str:
        """The end of both processes' output, for failure messages."""
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(parts)


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {START_TIMEOUT_S:.0f} s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate, wait, kill: never leave a process behind."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def start_process(argv: list[str], env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own tools with fixed arguments
        argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
    )


def run_stack(workdir: Path) -> Iterator[Stack]:
    """Start the simulator, then `chalice local` pointed at it; yield; stop both."""
    sim_port, api_port = free_port(), free_port()
    while api_port == sim_port:
        api_port = free_port()
    evolution_key = secrets.token_urlsafe(24)
    api_key = "e2e-" + secrets.token_urlsafe(24)
    webhook_secret = secrets.token_urlsafe(48)  # ≥ 32 bytes: no short-HMAC-key warnings
    base_url = f"http://127.0.0.1:{api_port}"
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"ALERT_TOPIC_ARN", "DEFAULT_COUNTRY", "AUTO_RESTART", "SSM_PARAMETER_PREFIX"}
        and not name.startswith("EVOLUTION_SIM_")
    }
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "us-east-1"),
            "EVOLUTION_API_URL": f"http://127.0.0.1:{sim_port}",
            "EVOLUTION_API_KEY": evolution_key,
            "INSTANCE_NAME": INSTANCE,
            "API_KEYS": api_key,
            "WEBHOOK_SECRET": webhook_secret,
            "EVENTS_SIGNING_KEY": secrets.token_urlsafe(32),
            "PUBLIC_BASE_URL": base_url,
            "STORE_URL": f"sqlite:///{workdir}/e2e.db",
            "STAGE": "dev",
            "LOG_LEVEL": "INFO",
            "EVOLUTION_CONNECT_TIMEOUT": "1",
            "EVOLUTION_READ_TIMEOUT": "5",
            "EVOLUTION_SEND_TIMEOUT": str(SEND_TIMEOUT_S),
        }
    )
    chalice = Path(sys.executable).parent / "chalice"
    with ExitStack() as cleanup:
        sim_log = cleanup.enter_context((workdir / "simulator.log").open("wb"))
        api_log = cleanup.enter_context((workdir / "chalice.log").open("wb"))
        simulator = start_process(
            [
                sys.executable,
                "-m",
                "devtools.evolution_simulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(sim_port),
                f"--api-key={evolution_key}",  # one argument: a generated key may start with a dash
                "--ack-delay-ms",
                str(ACK_DELAY_MS),
                "--webhook-backoff-initial-ms",
                "100",
                "--webhook-backoff-max-ms",
                "500",
            ],
            env,
            sim_log,
        )
        cleanup.callback(stop_process, simulator)
        wait_for_port(sim_port, simulator, "the Evolution simulator", workdir / "simulator.log")
        service = start_process(
            [
                str(chalice) if chalice.exists() else "chalice",
                "local",
                "--stage",
                "dev",
                "--no-autoreload",
                "--host",
                "127.0.0.1",
                "--port",
                str(api_port),
            ],
            env,
            api_log,
        )
        cleanup.callback(stop_process, service)  # stopped first: ExitStack unwinds in reverse
        wait_for_port(api_port, service, "chalice local", workdir / "chalice.log")
        stack = Stack(
            base_url=base_url,
            sim_url=f"http://127.0.0.1:{sim_port}",
            api_key=api_key,
            instance=INSTANCE,
            logs=workdir,
            webhook_secret=webhook_secret,
        )
        cleanup.callback(stack.http.close)
        yield stack


_shared: dict[str, Any] = {}


def shared_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """The session's one stack, started on first use (by any conftest) and stopped at the session's end."""
    if "stack" not in _shared:
        runner = run_stack(tmp_path_factory.mktemp("e2e"))
        _shared["stack"] = next(runner)
        _shared["runner"] = runner

        def stop() -> None:
            _shared.pop("stack", None)
            runner.close()

        request.session.config.add_cleanup(stop)
    stack: Stack = _shared["stack"]
    return stack


# --- conveniences shared by the suites ------------------------------------------------------------


def wait_for(condition: Any, *, timeout: float = 10.0, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll ``condition()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def state(stack: Stack) -> str:
    response = stack.api("GET", "/status")
    assert response.status_code == 200, response.text
    value: str = response.json()["state"]
    return value


def disconnect(stack: Stack) -> None:
    """Log the session out (idempotent) so a test can pair it from scratch."""
    response = stack.api("POST", "/disconnect")
    if response.status_code == 404:  # no instance yet: nothing to log out
        return
    assert response.status_code == 200, response.text
    wait_for(lambda: state(stack) == "close", what="the session to close")


def ensure_connected(stack: Stack) -> None:
    """Bring the session to ``open`` through the real flow: connect, wait for a QR, scan."""
    if stack.api("POST", "/connect").json().get("state") == "open":
        return

    def qr_ready() -> bool:
        body = stack.api("POST", "/connect").json()
        return body.get("state") == "open" or bool(body.get("qr_code"))

    wait_for(qr_ready, what="a QR code")
    if state(stack) != "open":
        scanned = stack.sim("POST", f"/instances/{stack.instance}/scan", json={})
        assert scanned.status_code == 200, scanned.text
    wait_for(lambda: state(stack) == "open", what="the session to open")
