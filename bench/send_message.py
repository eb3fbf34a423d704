"""POST /messages through the Lambda handler, against the same send made directly with ``requests``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests

from bench import environment as env
from bench.lambda_event import LambdaContext, rest_event, token_event
from bench.report import Row, Section, ms, per_s, ratio, us
from bench.stats import p50, p99, timed

WARMUP = 50
N = 1000
AUTH_N = 10_000
OVERHEAD_GOAL_S = 0.002
TO = "+5511999999999"
NUMBER = "5511999999999"


def _text(i: int) -> str:
    return f"Pedido {i} confirmado, ref {uuid.uuid4().hex[:12]}"


def handler_call(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], sent_ids: list[str]
) -> Callable[[int], float]:
    """One POST /messages through the Lambda handler; building the event (API Gateway's job) is not timed."""
    context = LambdaContext()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {env.API_KEY}"}

    def call(i: int) -> float:
        body = json.dumps({"to": TO, "text": _text(i)})
        event = rest_event("POST", "/messages", "/messages", body=body, headers=headers)
        started = time.perf_counter()
        response = handler(event, context)
        elapsed = time.perf_counter() - started
        if response["statusCode"] != 201:
            raise RuntimeError(f"POST /messages answered {response['statusCode']}: {response['body']}")
        sent_ids.append(json.loads(response["body"])["message_id"])
        return elapsed

    return call


def direct_call(evolution_url: str) -> Callable[[int], float]:
    """The same send made straight to the stub: one pooled session, post, parse the answer."""
    session = requests.Session()
    url = f"{evolution_url}/message/sendText/{env.INSTANCE}"
    headers = {"apikey": env.EVOLUTION_API_KEY, "Accept": "application/json"}

    def call(i: int) -> float:
        payload = {"number": NUMBER, "text": _text(i)}
        started = time.perf_counter()
        response = session.post(url, json=payload, headers=headers, timeout=(2, 15))
        response.json()
        elapsed = time.perf_counter() - started
        if response.status_code != 201:
            raise RuntimeError(f"the stub answered {response.status_code}")
        return elapsed

    return call


def authorizer_rows() -> list[Row]:
    """``api_key_auth`` called as its own Lambda (TOKEN event) vs the key check it wraps."""
    from chalicelib.routes.auth import api_key_auth
    from chalicelib.settings import get_settings

    context = LambdaContext(function_name="whatsapp-evolution-prod-api_key_auth", memory_mb=128)
    event = token_event(f"Bearer {env.API_KEY}", "POST", "/messages")
    settings = get_settings()

    def authorize(_: int) -> float:
        started = time.perf_counter()
        policy = api_key_auth(event, context)
        elapsed = time.perf_counter() - started
        if policy["policyDocument"]["Statement"][0]["Resource"] == []:
            raise RuntimeError(f"the authorizer denied the bench key: {policy}")
        return elapsed

    def compare(_: int) -> float:
        started = time.perf_counter()
        settings.api_key_matches(env.API_KEY)
        return time.perf_counter() - started

    authorized, _ = timed(authorize, AUTH_N, WARMUP)
    compared, _ = timed(compare, AUTH_N, WARMUP)
    return [
        Row(
            "authorizer api_key_auth p50, vs api_key_matches",
            us(p50(authorized)),
            us(p50(compared)),
            ratio(p50(authorized), p50(compared)),
            "info",
        ),
        Row(
            "authorizer api_key_auth p99, vs api_key_matches",
            us(p99(authorized)),
            us(p99(compared)),
            ratio(p99(authorized), p99(compared)),
            "info",
        ),
    ]


def run(evolution_url: str) -> tuple[Section, list[str]]:
    """The rows, and the WhatsApp ids of the messages sent (for the webhook events that follow)."""
    import app  # the environment is set: settings are read on first use

    sent_ids: list[str] = []
    handled, handled_wall = timed(handler_call(app.app, sent_ids), N, WARMUP)
    direct, direct_wall = timed(direct_call(evolution_url), N, WARMUP)
    over50, over99 = p50(handled) - p50(direct), p99(handled) - p99(direct)
    met = "met" if over50 <= OVERHEAD_GOAL_S else "missed"
    rows = [
        Row(
            "POST /messages p50, handler vs direct requests",
            ms(p50(handled)),
            ms(p50(direct)),
            ratio(p50(handled), p50(direct)),
        ),
        Row(
            "POST /messages p99, handler vs direct requests",
            ms(p99(handled)),
            ms(p99(direct)),
            ratio(p99(handled), p99(direct)),
        ),
        Row("POST /messages overhead p50 (handler - direct)", ms(over50), "0.00 ms", "-", f"<= 2 ms ({met})"),
        Row("POST /messages overhead p99 (handler - direct)", ms(over99), "0.00 ms", "-", "info"),
        Row(
            "POST /messages throughput, handler vs direct",
            per_s(N / handled_wall),
            per_s(N / direct_wall),
            ratio(N / handled_wall, N / direct_wall),
            "info",
        ),
        *authorizer_rows(),
    ]
    notes = [
        f"POST /messages: {N} requests after {WARMUP} warm-up, unique text each, SQLite store, "
        "LOG_LEVEL=WARNING; "
        "the stub runs in its own process (HTTP/1.1 keep-alive); direct = requests.Session().post + .json()",
    ]
    return Section(rows, notes), sent_ids
