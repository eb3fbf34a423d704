"""Health: the checks behind ``GET /health`` and the scheduled job (metrics, alerts, restarts)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib import __version__, errors
from chalicelib.evolution import errors as evo

if TYPE_CHECKING:
    from chalicelib.evolution import EvolutionClient
    from chalicelib.models.records import InstanceState
    from chalicelib.settings import Settings
    from chalicelib.store.base import Store

logger = logging.getLogger(__name__)

METRICS_NAMESPACE = "WhatsAppEvolution"
RESTART_BACKOFF_S = 300  # first auto-restart waits one job period; doubles up to the cap
RESTART_BACKOFF_CAP_S = 6 * 3600


@dataclass(frozen=True)
class HealthReport:
    """The outcome of one run of the checks."""

    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return bool(self.body["status"] == "ok")

    @property
    def instance_state(self) -> str:
        return str(self.body["checks"]["instance"].get("state", "unknown"))


class HealthService:
    """Runs the checks; the scheduled job adds metrics, alerts and optional auto-restart."""

    def __init__(
        self,
        *,
        evolution: EvolutionClient,
        store: Store | None,
        settings: Settings,
        publisher: Any = None,
        clock: Any = time.time,
    ) -> None:
        self.evolution = evolution
        self.store = store
        self.settings = settings
        self.instance = settings.INSTANCE_NAME
        self._publisher = publisher
        self._clock = clock

    def check(self) -> HealthReport:
        evolution_check: dict[str, Any]
        instance_check: dict[str, Any] = {"ok": False, "name": self.instance, "state": "unknown"}
        reachable = True
        started = time.perf_counter()
        try:
            state = self.evolution.connection_state(self.instance, timeout=self.settings.HEALTH_TIMEOUT)
            evolution_check = {"ok": True}
            instance_check.update(ok=state == "open", state=state)
        except evo.EvolutionNotFoundError:
            evolution_check = {"ok": True}
            instance_check["state"] = "missing"
        except (evo.EvolutionTransportError, evo.EvolutionUnavailableError) as exc:
            reachable = False
            evolution_check = {"ok": False, "error": _describe(exc)}
        except evo.EvolutionError as exc:
            evolution_check = {"ok": False, "error": _describe(exc)}
        evolution_check["latency_ms"] = round((time.perf_counter() - started) * 1000)
        store_check = self._check_store()
        if not reachable:
            status = "down"
        elif evolution_check["ok"] and instance_check["ok"] and store_check["ok"]:
            status = "ok"
        else:
            status = "degraded"
        return HealthReport(
            {
                "status": status,
                "version": __version__,
                "stage": self.settings.STAGE,
                "checks": {
                    "evolution": evolution_check,
                    "instance": instance_check,
                    "store": store_check,
                },
            }
        )

    def _check_store(self) -> dict[str, Any]:
        if self.store is None:
            return {"ok": False, "error": "not configured"}
        try:
            self.store.ping()
        except errors.StoreUnavailableError:
            return {"ok": False, "error": "unavailable"}
        return {"ok": True}

    # -- the scheduled job ---------------------------------------------------------------------

    def run_scheduled(self) -> dict[str, Any]:
        """One run of the job: check, emit metrics, alert on leaving ``open``, maybe restart."""
        report = self.check()
        current = report.instance_state
        saved = self._saved_state()
        previous = saved.checked_state if saved else None
        alerted = previous == "open" and current != "open"
        if alerted:
            self._alert(previous, current)
        restarted = self._maybe_restart(current, saved)
        self._emit_metrics(report)
        summary = {
            "status": report.body["status"],
            "instance_state": current,
            "previous_state": previous,
            "alerted": alerted,
            "restarted": restarted,
            "evolution_latency_ms": report.body["checks"]["evolution"]["latency_ms"],
        }
        logger.info("health check", extra={"health": summary})
        return summary

    def _saved_state(self) -> InstanceState | None:
        """What the previous run remembered in the store (None when unknown)."""
        if self.store is None:
            return None
        try:
            return self.store.get_instance_state(self.instance)
        except errors.StoreUnavailableError:
            logger.warning("store unavailable: cannot tell the previous instance state")
            return None

    def _remember(self, **fields: Any) -> None:
        if self.store is None:
            return
        try:
            self.store.update_instance_state(self.instance, **fields)
        except errors.StoreUnavailableError:
            logger.warning("store unavailable: instance state not remembered")

    def _alert(self, previous: str | None, current: str) -> None:
        message = {
            "alert": "whatsapp-session-lost",
            "instance": self.instance,
            "stage": self.settings.STAGE,
            "previous_state": previous,
            "state": current,
        }
        logger.error("WhatsApp session left the open state", extra={"alert": message})
        topic = self.settings.ALERT_TOPIC_ARN
        if not topic:
            return
        try:
            self._sns().publish(
                TopicArn=topic,
                Subject=f"WhatsApp session {self.instance} is {current}"[:100],
                Message=json.dumps(message),
            )
        except Exception:  # the alert log line above is the fallback
            logger.exception("could not publish the alert to SNS")

    def _sns(self) -> Any:
        if self._publisher is None:
            import boto3  # noqa: PLC0415 - only the job with a topic pays for it

            self._publisher = boto3.client("sns")
        return self._publisher

    def _maybe_restart(self, current: str, saved: InstanceState | None) -> bool:
        """Remember ``current``; reconnect a closed session when enabled, with doubling backoff.

        Evolution refuses ``restart`` for a closed instance, so the reconnect is a ``connect``
        (which resumes a session whose credentials are still valid). A session that is
        ``connecting`` is left alone: someone may be scanning its QR code.
        """
        now = float(self._clock())
        if current == "open" or current in ("unknown", "missing"):
            self._remember(checked_state=current, restart_attempts=0, next_restart_at=None)
            return False
        if current == "connecting":
            self._remember(checked_state=current)
            return False
        attempts = saved.restart_attempts if saved else 0
        due = saved.next_restart_at if saved else None
        if not self.settings.AUTO_RESTART or (due is not None and now < due):
            self._remember(checked_state=current)
            return False
        try:
            self.evolution.connect(self.instance)
            restarted = True
        except evo.EvolutionError as exc:
            logger.warning("auto-restart failed", extra={"error": _describe(exc)})
            restarted = False
        delay = min(RESTART_BACKOFF_S * 2**attempts, RESTART_BACKOFF_CAP_S)
        self._remember(checked_state=current, restart_attempts=attempts + 1, next_restart_at=now + delay)
        return restarted

    def _emit_metrics(self, report: HealthReport) -> None:
        """CloudWatch metrics in Embedded Metric Format (one JSON line on stdout)."""
        from aws_lambda_powertools import Metrics  # noqa: PLC0415 - only the job emits metrics
        from aws_lambda_powertools.metrics import MetricUnit  # noqa: PLC0415

        metrics = Metrics(namespace=METRICS_NAMESPACE, service="whatsapp-evolution")
        metrics.add_dimension(name="stage", value=self.settings.STAGE)
        checks = report.body["checks"]
        metrics.add_metric(
            name="EvolutionUp", unit=MetricUnit.Count, value=int(bool(checks["evolution"]["ok"]))
        )
        metrics.add_metric(
            name="InstanceConnected",
            unit=MetricUnit.Count,
            value=int(checks["instance"].get("state") == "open"),
        )
        metrics.add_metric(
            name="EvolutionLatency",
            unit=MetricUnit.Milliseconds,
            value=checks["evolution"]["latency_ms"],
        )
        metrics.flush_metrics()


def _describe(exc: evo.EvolutionError) -> str:
    """A short, secret-free description of an Evolution failure for health bodies and logs."""
    if isinstance(exc, evo.EvolutionAPIError):
        return f"{type(exc).__name__} (HTTP {exc.status})"
    return type(exc).__name__
