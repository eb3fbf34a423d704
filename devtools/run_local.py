"""`make run`: the service on its embedded defaults — the Evolution simulator plus `chalice local`.

With ``EVOLUTION_API_URL`` set (in the environment, e.g. ``make run EVOLUTION_API_URL=…``, or in
``.env``) no simulator is started and the service talks to that Evolution server instead.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".data"
SERVICE_PORT = int(os.environ.get("PORT", "8000"))
SIMULATOR_PORT = int(os.environ.get("SIMULATOR_PORT", "8081"))


def _dotenv() -> dict[str, str]:
    return {k: v for k, v in dotenv_values(ROOT / ".env").items() if v is not None}


def _persistent_secret(name: str) -> str:
    """A random secret kept under .data/ so it stays the same from one run to the next."""
    DATA.mkdir(exist_ok=True)
    path = DATA / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited with code {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    sys.exit(f"{what} did not start listening on port {port} within {timeout:.0f} s")


def main() -> None:
    configured = {**_dotenv(), **os.environ}
    env = dict(os.environ)
    processes: list[subprocess.Popen[bytes]] = []
    use_simulator = not configured.get("EVOLUTION_API_URL")
    api_key = configured.get("API_KEYS", "").split(",")[0].strip() or _persistent_secret("dev-api-key")
    env.setdefault("API_KEYS", api_key)
    env.setdefault(
        "WEBHOOK_SECRET", configured.get("WEBHOOK_SECRET") or _persistent_secret("dev-webhook-secret")
    )
    env.setdefault("INSTANCE_NAME", configured.get("INSTANCE_NAME", "manpower-whatsapp"))
    env.setdefault("PUBLIC_BASE_URL", configured.get("PUBLIC_BASE_URL", f"http://127.0.0.1:{SERVICE_PORT}"))
    env.setdefault("STORE_URL", configured.get("STORE_URL", "sqlite:///.data/service.db"))
    if use_simulator:
        evolution_key = _persistent_secret("dev-evolution-key")
        env["EVOLUTION_API_URL"] = f"http://127.0.0.1:{SIMULATOR_PORT}"
        env["EVOLUTION_API_KEY"] = evolution_key
        simulator = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [
                sys.executable,
                "-m",
                "devtools.evolution_simulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(SIMULATOR_PORT),
                "--api-key",
                evolution_key,
            ],
            cwd=ROOT,
            env=env,
        )
        processes.append(simulator)
        _wait_for_port(SIMULATOR_PORT, simulator, "the Evolution simulator")
    chalice = ROOT / ".venv" / "bin" / "chalice"
    service = subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            str(chalice) if chalice.exists() else "chalice",
            "local",
            "--stage",
            "dev",
            "--host",
            "127.0.0.1",
            "--port",
            str(SERVICE_PORT),
            "--no-autoreload",
        ],
        cwd=ROOT,
        env=env,
    )
    processes.append(service)
    try:
        _wait_for_port(SERVICE_PORT, service, "chalice local")
        base = f"http://127.0.0.1:{SERVICE_PORT}"
        upstream = "the local Evolution simulator" if use_simulator else env.get("EVOLUTION_API_URL", "")
        print(  # noqa: T201 - this is the command's own output
            f"\n  Service:   {base}  (Evolution: {upstream})\n"
            f"  API key:   {api_key}\n"
            f"  QR page:   {base}/connect/qr\n"
            + (
                f"  Simulator: http://127.0.0.1:{SIMULATOR_PORT}/_sim/  (scan: POST /_sim/instances/"
                f"{env['INSTANCE_NAME']}/scan)\n"
                if use_simulator
                else ""
            )
            + "  Ctrl-C stops everything.\n",
            flush=True,
        )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
