"""Evolution misbehaving under a send: each fault maps to its API.md code well inside 29 s, no
message goes out twice for one Idempotency-Key, and the record says what really happened.

The app runs in process (``chalice.test.Client``) and talks real HTTP to the simulator; the one
shape the simulator cannot produce (2.4's ``LICENSE_REQUIRED`` 503) is mocked with ``responses``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from responses import RequestsMock

from tests.conftest import EVOLUTION_URL, INSTANCE, auth
from tests.faults.conftest import GATEWAY_LIMIT_S, Harness, Response
from tests.procs import free_port, wait_for

SLOW_MS = 3000  # well above the 1 s send timeout these tests set
RETRY_AFTER_CODES = {429, 503}


def _text(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:10]}"


def _key() -> str:
    return f"faults-{uuid.uuid4()}"


def _check_error(response: Response, status: int, code: str) -> None:
    """The API.md shape: status, Code, a Message, the request id; Retry-After where promised; fast."""
    assert response.status == status, response.body
    assert response.code == code, response.body
    assert response.body["Message"]
    assert "<html" not in json.dumps(response.body).lower(), "no upstream body verbatim"
    assert response.headers.get("X-Request-Id")
    if status in RETRY_AFTER_CODES:
        assert int(response.headers["Retry-After"]) > 0
    assert response.elapsed < GATEWAY_LIMIT_S


def _detail(response: Response) -> dict[str, Any]:
    [detail] = response.body["Details"]
    assert detail["id"].startswith("msg_")
    return dict(detail)


def _short_send_timeout(harness: Harness) -> None:
    harness.set_env(EVOLUTION_SEND_TIMEOUT="1", EVOLUTION_READ_TIMEOUT="1")


# -- the outcome is unknown: 504, the record says ``unknown``, a webhook settles it -------------------


@pytest.mark.parametrize("when", ["before", "after"])
def test_evolution_slower_than_the_timeout_is_504_unknown_then_a_webhook_settles_it(
    harness: Harness, when: str
) -> None:
    """``before``: Evolution is slow to send (it goes out after we gave up); ``after``: it sent at
    once and only the answer is late, so its ``send.message`` webhook arrives *before* the 504."""
    _short_send_timeout(harness)
    harness.fault(kind="latency", latency_ms=SLOW_MS, when=when)
    text, key = _text(f"slow-{when}"), _key()

    first = harness.send(text, key=key)

    _check_error(first, 504, "UpstreamTimeout")
    assert "may or may not have been sent" in first.body["Message"]
    assert first.elapsed < SLOW_MS / 1000, "the service gave up at its send timeout"
    detail = _detail(first)
    assert detail["status"] == "unknown"
    record = harness.record(detail["id"])
    assert record is not None
    assert record["status"] in {"unknown", "pending", "sent", "delivered", "read"}
    # ``before``: the record is settled unknown; ``after``: the send.message webhook may have
    # settled the written-ahead record while the send was still waiting for its answer.
    first_status = {"before": {"unknown"}, "after": {"unknown", "pending"}}[when]
    assert record["status_history"][0]["status"] in first_status

    again = harness.send(text, key=key)  # the client retries with the same key: nothing re-sent
    assert again.status == 504
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _detail(again)["id"] == detail["id"]

    wait_for(lambda: harness.delivered(text) == 1, timeout=SLOW_MS / 1000 + 3, what="the send to go out")
    settled = wait_for(
        lambda: (r := harness.record(detail["id"])) and r["status"] != "unknown" and r,
        timeout=5,
        what="the send.message webhook to settle the unknown record",
    )
    [sent] = [s for s in harness.sent(text) if s["message_id"]]
    assert settled["message_id"] == sent["message_id"]
    assert settled["status"] in {"pending", "sent", "delivered", "read"}
    assert [h["status"] for h in settled["status_history"]][0] in first_status
    assert harness.delivered(text) == 1, "the message went out exactly once"
    assert len(harness.sent(text)) == 1, "the retry never reached Evolution"


def test_a_connection_dropped_after_sending_is_504_unknown_and_never_resent(harness: Harness) -> None:
    harness.fault(kind="drop_connection", when="after")
    text, key = _text("dropped"), _key()

    first = harness.send(text, key=key)
    again = harness.send(text, key=key)

    _check_error(first, 504, "UpstreamTimeout")
    assert "may or may not have been sent" in first.body["Message"]
    detail = _detail(first)
    assert again.status == 504
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert harness.delivered(text) == 1
    assert len(harness.sent(text)) == 1
    settled = wait_for(
        lambda: (r := harness.record(detail["id"])) and r["status"] != "unknown" and r,
        timeout=5,
        what="the send.message webhook to settle the unknown record",
    )
    assert settled["message_id"] == harness.sent(text)[0]["message_id"]


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_proxy_html_502_is_502_unknown_and_the_webhook_tells_whether_it_went_out(
    harness: Harness, when: str
) -> None:
    """An HTML page from a proxy says nothing about the send: ``before``, Evolution never got it;
    ``after``, it sent and only the answer was replaced. The record says ``unknown`` until a
    ``send.message`` webhook (only in the second case) settles it."""
    harness.fault(kind="html", when=when)
    text, key = _text(f"html-{when}"), _key()

    first = harness.send(text, key=key)
    again = harness.send(text, key=key)

    _check_error(first, 502, "UpstreamError")
    assert "may or may not have been sent" in first.body["Message"]
    detail = _detail(first)
    assert detail["status"] == "unknown"
    assert again.status == 502
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert len(harness.sent(text)) == 1, "the key kept the answer: no second attempt"
    if when == "before":
        assert harness.delivered(text) == 0
        record = harness.record(detail["id"])
        assert record is not None and record["status"] == "unknown"
        return
    assert harness.delivered(text) == 1
    settled = wait_for(
        lambda: (r := harness.record(detail["id"])) and r["status"] != "unknown" and r,
        timeout=5,
        what="the send.message webhook to settle the unknown record",
    )
    assert settled["message_id"] == harness.sent(text)[0]["message_id"]


# -- nothing was sent: the key is released, no record, a retry sends once ---------------------------


def test_connection_refused_is_503_upstream_unavailable_and_a_retry_sends_once(harness: Harness) -> None:
    harness.set_env(EVOLUTION_API_URL=f"http://127.0.0.1:{free_port()}")  # nobody listens there
    text, key = _text("refused"), _key()

    first = harness.send(text, key=key)

    _check_error(first, 503, "UpstreamUnavailable")
    assert "nothing was sent" in first.body["Message"]
    assert "Details" not in first.body
    assert harness.outbound() == []

    harness.set_env(EVOLUTION_API_URL=harness.sim.url)
    retried = harness.send(text, key=key)
    replayed = harness.send(text, key=key)

    assert retried.status == 201, retried.body
    assert replayed.status == 201
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert replayed.body["id"] == retried.body["id"]
    assert harness.delivered(text) == 1
    assert [r["id"] for r in harness.outbound()] == [retried.body["id"]]


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"kind": "session_closed"}, 503, "InstanceDisconnected"),  # 500 "Connection Closed"
        ({"kind": "rate_limit", "retry_after": 7}, 429, "RateLimited"),
        ({"kind": "status", "status": 503}, 503, "UpstreamUnavailable"),
    ],
    ids=["500-connection-closed", "429-retry-after", "503"],
)
def test_a_refusal_before_sending_releases_the_key_and_keeps_no_record(
    harness: Harness, fault: dict[str, Any], status: int, code: str
) -> None:
    harness.fault(**fault)
    text, key = _text(fault["kind"]), _key()

    first = harness.send(text, key=key)

    _check_error(first, status, code)
    if code == "RateLimited":
        assert first.headers["Retry-After"] == "7", "Evolution's Retry-After is passed on"
    assert "Details" not in first.body
    assert harness.outbound() == [], "nothing was sent, so nothing is recorded"
    assert harness.delivered(text) == 0

    retried = harness.send(text, key=key)  # the key was released: the retry really sends, once

    assert retried.status == 201, retried.body
    assert retried.headers.get("Idempotent-Replayed") is None
    assert harness.send(text, key=key).headers.get("Idempotent-Replayed") == "true"
    assert harness.delivered(text) == 1
    assert len(harness.outbound()) == 1


@pytest.mark.parametrize(
    ("fault", "label", "status"),
    [
        ({"kind": "status", "status": 400}, "400", "failed"),
        ({"kind": "status", "status": 500}, "500", "unknown"),
    ],
    ids=["400-refused-failed", "500-maybe-sent-unknown"],
)
def test_an_evolution_error_answer_is_502_and_the_key_keeps_it(
    harness: Harness, fault: dict[str, Any], label: str, status: str
) -> None:
    """A 400 is Evolution refusing the message (``failed``); a 500 does not say whether it left
    (``unknown``, settled by a later webhook if it did): either way the key keeps the answer."""
    harness.fault(**fault)
    text, key = _text(label), _key()

    first = harness.send(text, key=key)
    again = harness.send(text, key=key)

    _check_error(first, 502, "UpstreamError")
    detail = _detail(first)
    assert detail["status"] == status
    record = harness.record(detail["id"])
    assert record is not None
    assert record["status"] == status
    assert record["message_id"] is None
    assert record["error"]["code"] == "UpstreamError"
    assert again.status == 502
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _detail(again)["id"] == detail["id"]
    assert harness.delivered(text) == 0, "the simulator failed it: nothing went out"
    assert len(harness.sent(text)) == 1, "the key kept the answer: no second attempt"


def test_the_session_dropping_between_two_sends(harness: Harness) -> None:
    first_text, second_text, key = _text("before-drop"), _text("after-drop"), _key()
    first = harness.send(first_text)
    assert first.status == 201, first.body

    harness.control(f"/instances/{INSTANCE}/drop", {"statusReason": 428})
    second = harness.send(second_text, key=key)
    retried = harness.send(second_text, key=key)

    _check_error(second, 503, "InstanceDisconnected")
    assert "POST /connect" in second.body["Message"]
    assert retried.status == 503
    assert retried.headers.get("Idempotent-Replayed") is None, "the key was released"
    assert harness.delivered(first_text) == 1
    assert harness.delivered(second_text) == 0
    assert [r["id"] for r in harness.outbound()] == [first.body["id"]], "no record for the unsent one"
    kept = harness.record(first.body["id"])
    assert kept is not None
    assert kept["status"] != "failed", "the first message did go out"


# -- a shape the simulator cannot produce --------------------------------------------------------------


def test_evolution_2_4_license_required_503_is_upstream_unavailable(
    api: Any, evolution: RequestsMock
) -> None:
    url = f"{EVOLUTION_URL}/message/sendText/{INSTANCE}"
    evolution.post(url, status=503, json={"code": "LICENSE_REQUIRED", "message": "A license is required"})
    evolution.post(url, status=503, json={"code": "LICENSE_REQUIRED", "message": "A license is required"})
    body = json.dumps({"to": "+5511966665555", "text": "Hola"}).encode()
    headers = auth() | {"Idempotency-Key": "license-1"}

    raw = api.http.post("/messages", headers=headers, body=body)
    again = api.http.post("/messages", headers=headers, body=body)

    response = Response(raw.status_code, dict(raw.headers), json.loads(raw.body), 0.0)
    _check_error(response, 503, "UpstreamUnavailable")
    assert "LICENSE" not in raw.body.decode(), "no upstream body verbatim"
    assert again.status_code == 503
    assert again.headers.get("Idempotent-Replayed") is None, "not sent: the key was released"
    listed = json.loads(api.http.get("/messages", headers=auth()).body)
    assert listed["items"] == []
