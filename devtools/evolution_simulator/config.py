"""The simulator's settings: one frozen dataclass, filled from CLI flags or EVOLUTION_SIM_* vars."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "contract" / "evolution" / "schemas"
# Schemas of routes the service does not call (not in the contract): settings.
LOCAL_SCHEMAS = Path(__file__).resolve().parent / "schemas"


@dataclass(frozen=True, kw_only=True)
class SimConfig:
    """Everything that changes how the simulator behaves; defaults suit local development."""

    api_key: str
    host: str = "127.0.0.1"
    port: int = 8081
    server_url: str | None = None
    auto_scan_after: float | None = None
    webhook_delay_ms: int = 0
    ack_delay_ms: int = 150
    webhook_timeout: float = 5.0
    webhook_max_attempts: int = 5
    webhook_backoff_initial_ms: int = 200
    webhook_backoff_max_ms: int = 3000
    webhook_expose_apikey: bool = False
    max_send_delay_ms: int = 20_000
    qr_refresh_seconds: float = 30.0
    qr_limit: int = 30
    tz_offset_hours: float = -3.0
    schemas_dir: Path = SCHEMAS_DIR
    # DATABASE_SAVE_IS_ON_WHATSAPP: numbers known to exist skip the check (and a closed send is a 400)
    save_is_on_whatsapp: bool = False
    # The real server's waits: create with qrcode:true ~5 s, connect of a closed session ~2 s
    real_holds: bool = False
    create_hold_seconds: float = 5.0
    connect_hold_seconds: float = 2.0

    def public_url(self, bound_port: int) -> str:
        """``server_url`` as webhooks carry it: the configured one, else this process's address."""
        return self.server_url or f"http://{self.host}:{bound_port}"
