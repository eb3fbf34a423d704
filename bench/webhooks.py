"""POST /webhook per event type through the Lambda handler, against ``json.loads`` of the same body."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import environment as env
from bench.lambda_event import LambdaContext, rest_event
from bench.report import Row, Section, duration, ratio
from bench.stats import p50, p99, timed

WARMUP = 50
N = 500  # per event type
# Evolution sends send.message right after a send, then messages.update as it is delivered and read.
ORDER = ("messages.upsert", "send.message", "messages.update", "connection.update", "qrcode.updated")


def load_fixtures(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """The contract's webhook bodies, grouped by their ``event``."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(directory.glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        grouped.setdefault(str(body["event"]), []).append(body)
    known = [name for name in ORDER if name in grouped]
    return {name: grouped[name] for name in [*known, *sorted(set(grouped) - set(known))]}


def personalize(template: dict[str, Any], sent_id: str) -> dict[str, Any]:
    """A copy addressed to the bench instance, with fresh ids (``sent_id`` for events about our sends)."""
    body = copy.deepcopy(template)
    body["instance"] = env.INSTANCE
    data = body.get("data")
    if not isinstance(data, dict):
        return body
    if isinstance(data.get("instance"), str):
        data["instance"] = env.INSTANCE
    if isinstance(data.get("qrcode"), dict) and "instance" in data["qrcode"]:
        data["qrcode"]["instance"] = env.INSTANCE
    fresh = uuid.uuid4().hex.upper()
    if body["event"] == "messages.upsert" and isinstance(data.get("key"), dict):
        data["key"]["id"] = "3A" + fresh[:18]
    elif body["event"] == "send.message" and isinstance(data.get("key"), dict):
        data["key"]["id"] = sent_id
    elif body["event"] == "messages.update":
        data["keyId"] = sent_id
        data["messageId"] = "cm" + fresh[:23].lower()
    return body


def _bodies(templates: list[dict[str, Any]], sent_ids: list[str], count: int) -> list[str]:
    return [
        json.dumps(personalize(templates[i % len(templates)], sent_ids[i % len(sent_ids)]))
        for i in range(count)
    ]


def _replay(items: list[Any], measure: Callable[[Any], object]) -> Callable[[int], float]:
    """Warm-up calls (negative ``i``) take the first items, measured calls the ones after them."""

    def call(i: int) -> float:
        item = items[i + WARMUP] if i >= 0 else items[-1 - i]
        started = time.perf_counter()
        measure(item)
        return time.perf_counter() - started

    return call


def run(fixtures: Path, sent_ids: list[str]) -> Section:
    import app

    context = LambdaContext()
    headers = {"Content-Type": "application/json", "X-Webhook-Secret": env.WEBHOOK_SECRET}

    def handle(event: dict[str, Any]) -> None:
        response = app.app(event, context)
        if response["statusCode"] != 200:
            raise RuntimeError(f"POST /webhook answered {response['statusCode']}: {response['body']}")

    rows: list[Row] = []
    total = {"handled": 0.0, "parsed": 0.0}
    for name, templates in load_fixtures(fixtures).items():
        bodies = _bodies(templates, sent_ids, WARMUP + N)
        events = [rest_event("POST", "/webhook", "/webhook", body=b, headers=headers) for b in bodies]
        handled, handled_wall = timed(_replay(events, handle), N, WARMUP)
        parsed, parsed_wall = timed(_replay(bodies, json.loads), N, WARMUP)
        total["handled"] += handled_wall
        total["parsed"] += parsed_wall
        rows += [
            Row(
                f"webhook {name} p50, handler vs json.loads",
                duration(p50(handled)),
                duration(p50(parsed)),
                ratio(p50(handled), p50(parsed)),
                "info",
            ),
            Row(
                f"webhook {name} p99, handler vs json.loads",
                duration(p99(handled)),
                duration(p99(parsed)),
                ratio(p99(handled), p99(parsed)),
                "info",
            ),
        ]
    count = N * (len(rows) // 2)
    handled_rate, parsed_rate = count / total["handled"], count / total["parsed"]
    rows.append(
        Row(
            "webhook events/s, handler vs json.loads",
            f"{handled_rate:,.0f} ev/s",
            f"{parsed_rate:,.0f} ev/s",
            ratio(handled_rate, parsed_rate),
            "info",
        )
    )
    notes = [
        f"webhooks: {N} events per type after {WARMUP} warm-up, cycling the contract fixtures of that type, "
        "X-Webhook-Secret auth; fresh ids for messages.upsert, the ids of the POST /messages sends for "
        "send.message and messages.update (their real order)",
    ]
    return Section(rows, notes)
