"""CLI: ``python -m devtools.evolution_simulator --api-key KEY [...]``; every flag also reads
``EVOLUTION_SIM_<FLAG>`` (e.g. ``EVOLUTION_SIM_AUTO_SCAN_AFTER``) when not given."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from devtools.evolution_simulator.config import SimConfig
from devtools.evolution_simulator.simulator import Simulator

logger = logging.getLogger("devtools.evolution_simulator")

# (flag, type, default, help)
_OPTIONS: list[tuple[str, Callable[[str], Any], Any, str]] = [
    ("host", str, "127.0.0.1", "address to bind"),
    ("port", int, 8081, "port to bind (0 = any free port)"),
    ("api-key", str, None, "the global API key (AUTHENTICATION_API_KEY); required"),
    ("server-url", str, None, "server_url in webhooks (default http://HOST:PORT)"),
    ("auto-scan-after", float, None, "seconds after the first QR until it is 'scanned'"),
    ("webhook-delay-ms", int, 0, "extra delay before each webhook delivery"),
    ("ack-delay-ms", int, 150, "gap between send.message and each messages.update ack"),
    ("webhook-timeout", float, 5.0, "webhook request timeout in seconds (real: 30)"),
    ("webhook-max-attempts", int, 5, "delivery attempts per event (real: 10)"),
    ("webhook-backoff-initial-ms", int, 200, "first retry delay (real: 5 s)"),
    ("webhook-backoff-max-ms", int, 3000, "retry delay cap (real: 300 s)"),
    ("max-send-delay-ms", int, 20_000, "cap on a send's `delay` option"),
    ("qr-refresh-seconds", float, 30.0, "seconds between QR refreshes while connecting"),
    ("qr-limit", int, 30, "QR refreshes before 'QR code limit reached' (QRCODE_LIMIT)"),
    ("tz-offset-hours", float, -3.0, "server-local offset used for date_time (stock: UTC-3)"),
    ("log-level", str, "INFO", "logging level"),
]
_BOOL_FLAGS = [
    ("webhook-expose-apikey", "put the instance token in the webhook `apikey` field"),
    (
        "save-is-on-whatsapp",
        "DATABASE_SAVE_IS_ON_WHATSAPP: cache numbers known to exist (as the real default .env)",
    ),
    (
        "real-holds",
        "hold create with qrcode:true ~5 s and connect of a closed session ~2 s, as the real server",
    ),
]


def _env_name(flag: str) -> str:
    return "EVOLUTION_SIM_" + flag.replace("-", "_").upper()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.evolution_simulator",
        description="Local Evolution API 2.3.7 simulator (dev tool; never deployed).",
    )
    for flag, kind, default, text in _OPTIONS:
        env = os.environ.get(_env_name(flag))
        parser.add_argument(
            f"--{flag}",
            type=kind,
            default=kind(env) if env is not None else default,
            help=f"{text} [env {_env_name(flag)}]",
        )
    for flag, text in _BOOL_FLAGS:
        enabled = os.environ.get(_env_name(flag), "").lower() in {"1", "true", "yes"}
        parser.add_argument(
            f"--{flag}", action="store_true", default=enabled, help=f"{text} [env {_env_name(flag)}]"
        )
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("--api-key (or EVOLUTION_SIM_API_KEY) is required")
    return args


def config_from_args(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        server_url=args.server_url,
        auto_scan_after=args.auto_scan_after,
        webhook_delay_ms=args.webhook_delay_ms,
        ack_delay_ms=args.ack_delay_ms,
        webhook_timeout=args.webhook_timeout,
        webhook_max_attempts=args.webhook_max_attempts,
        webhook_backoff_initial_ms=args.webhook_backoff_initial_ms,
        webhook_backoff_max_ms=args.webhook_backoff_max_ms,
        webhook_expose_apikey=args.webhook_expose_apikey,
        max_send_delay_ms=args.max_send_delay_ms,
        qr_refresh_seconds=args.qr_refresh_seconds,
        qr_limit=args.qr_limit,
        tz_offset_hours=args.tz_offset_hours,
        save_is_on_whatsapp=args.save_is_on_whatsapp,
        real_holds=args.real_holds,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    simulator = Simulator(config_from_args(args))
    try:
        simulator.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
