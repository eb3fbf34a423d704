"""Schemathesis against a real `chalice local`: generated requests for every operation of the document.

Checks on every answer: no 5xx but the documented 502/503/504, a documented status, content type,
headers and body schema, and no "Traceback" anywhere in the body. The number of requests sent is
counted, printed, and must reach :data:`MIN_REQUESTS`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import WEBHOOKS, load_webhook
from tests.fuzz.conftest import INSTANCE, Live
from tests.openapi.conftest import built_document

pytestmark = pytest.mark.e2e  # a real `chalice local` process

MIN_REQUESTS = 1000
EXAMPLES_PER_MODE = 100  # per operation and generation mode; operations with little input stop sooner
ALLOWED_5XX = {502, 503, 504}
# Recipients that may really be sent to (the simulator answers 201) or are refused on purpose.
RECIPIENTS = [
    "+5511999999999",
    "+55 (11) 98888-7777",
    "+14155552671",
    "+5511900000000",
    "120363025246125486@g.us",
]
TEMPLATES = ["interview_reminder", "document_request", "job_offer"]
VARIABLES = {"name": "Ana", "date": "2026-12-01", "time": "10:00", "location": "Av. Paulista 1000"}
WEBHOOK_BODIES = [p.stem for p in sorted(WEBHOOKS.glob("*.json"))]

SENT: Counter[str] = Counter()
STATUSES: Counter[tuple[str, int]] = Counter()
DOCUMENTED = {
    f"{method.upper()} {path}": operation
    for path, item in built_document()["paths"].items()
    for method, operation in item.items()
}
LABELS = sorted(
    DOCUMENTED, key=lambda label: (label.startswith("GET"), label)
)  # writes first: reads see data


@pytest.fixture(scope="module")
def schema() -> Any:
    import schemathesis

    return schemathesis.openapi.from_dict(built_document())


@pytest.fixture(scope="module")
def session() -> Any:
    with requests.Session() as http:
        yield http


def _credentials(live: Live, label: str) -> dict[str, str]:
    if label.startswith("POST /webhook"):
        return {"X-Webhook-Secret": live.webhook_secret}
    return {"Authorization": f"Bearer {live.api_key}"}


def _steer(case: Any, label: str, pick: int | None, known_ids: list[str]) -> None:
    """Now and then make generated input valid where the schema cannot say it all (a real phone
    number, an existing template or message, a real Evolution event), so the happy paths (a real
    send, a stored webhook event, a found record) are fuzzed too, not only the refusals."""
    if pick is None:
        return
    params = case.path_parameters or {}
    if "name" in params:
        params["name"] = TEMPLATES[pick % len(TEMPLATES)]
    if "message_id" in params and known_ids:
        params["message_id"] = known_ids[pick % len(known_ids)]
    if not isinstance(case.body, dict):
        return
    body: dict[str, Any] = case.body
    if label.startswith("POST /messages"):
        body["to"] = RECIPIENTS[pick % len(RECIPIENTS)]
        body.pop("reply_to", None)  # a random id is not a message WhatsApp knows
    if label == "POST /messages":
        for name in ("media", "location", "reaction", "link_preview"):
            if body.get(name) is None:
                body.pop(name, None)
        if not {"text", "media", "location", "reaction"} & set(body) or pick % 2:
            body.clear()
            body.update({"to": RECIPIENTS[pick % len(RECIPIENTS)], "text": f"fuzz {pick}"})
    elif label == "POST /messages/template":
        body.update(template="interview_reminder", language="es", variables=dict(VARIABLES))
    elif label.startswith("POST /webhook"):
        envelope = load_webhook(WEBHOOK_BODIES[pick % len(WEBHOOK_BODIES)])
        envelope["instance"] = INSTANCE
        case.body = envelope


def _ensure_session_open(live: Live) -> None:
    """POST /disconnect is fuzzed too: reopen the simulated session before each operation."""
    headers = {"Authorization": f"Bearer {live.api_key}"}
    state = requests.get(f"{live.base_url}/status", headers=headers, timeout=10).json().get("state")
    if state != "open":
        requests.post(f"{live.base_url}/connect", headers=headers, timeout=15)
        requests.post(f"{live.sim_url}/_sim/instances/{INSTANCE}/scan", json={}, timeout=10)


def _known_message_ids(live: Live) -> list[str]:
    """The ids (both kinds) of the messages stored so far."""
    headers = {"Authorization": f"Bearer {live.api_key}"}
    items = requests.get(f"{live.base_url}/messages?limit=100", headers=headers, timeout=10).json()["items"]
    return [value for item in items for value in (item["id"], item["message_id"]) if value]


@pytest.mark.parametrize("label", LABELS)
def test_generated_requests_get_documented_answers(live: Live, schema: Any, session: Any, label: str) -> None:
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    _ensure_session_open(live)
    known_ids = _known_message_ids(live)
    operation = schema.find_operation_by_label(label)
    checks = [
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]

    takes_input = "parameters" in DOCUMENTED[label] or "requestBody" in DOCUMENTED[label]
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if takes_input else (GenerationMode.POSITIVE,)
    for mode in modes:

        @settings(
            max_examples=EXAMPLES_PER_MODE,
            deadline=None,
            database=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(mode), pick=st.none() | st.integers(0, 999))
        def run(case: Any, pick: int | None) -> None:
            _steer(case, label, pick, known_ids)
            case.headers = {**(case.headers or {}), **_credentials(live, label)}
            response = case.call(base_url=live.base_url, session=session, timeout=30)
            SENT[label] += 1
            STATUSES[(label, response.status_code)] += 1
            assert "Traceback" not in response.text, response.text[:2000]
            assert response.status_code < 500 or response.status_code in ALLOWED_5XX, (
                f"{label} answered {response.status_code}: {response.text[:500]}"
            )
            case.validate_response(response, checks=checks)

        run()


def test_at_least_a_thousand_requests_were_sent(request: pytest.FixtureRequest) -> None:
    total = sum(SENT.values())
    if total == 0:
        pytest.skip("the fuzz tests did not run in this session")
    report = ", ".join(f"{label}: {count}" for label, count in sorted(SENT.items()))
    statuses = ", ".join(f"{label} {status}: {n}" for (label, status), n in sorted(STATUSES.items()))
    print(f"\nfuzz: {total} requests ({report})\nstatuses: {statuses}")  # noqa: T201
    assert total >= MIN_REQUESTS, f"only {total} requests were sent"
