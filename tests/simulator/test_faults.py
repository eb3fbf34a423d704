"""Injected faults: latency, status, 429, HTML 502, dropped connections, closed sessions."""

from __future__ import annotations

import time

import pytest
import requests

from tests.simulator.conftest import Client


def _fault(client: Client, **spec: object) -> None:
    answer = client.post("/_sim/faults", json={"route_prefix": "/message/sendText", **spec})
    assert answer.status_code == 201, answer.text


@pytest.fixture
def acme(client: Client) -> Client:
    client.open_instance("acme")
    return client


def test_latency_delays_the_answer_and_then_serves_it(acme: Client) -> None:
    _fault(acme, kind="latency", latency_ms=300)
    started = time.monotonic()
    assert acme.send_text("acme").status_code == 201
    assert time.monotonic() - started >= 0.3


def test_a_status_fault_answers_that_status_for_count_requests(acme: Client) -> None:
    _fault(acme, kind="status", status=503, count=2)
    assert [acme.send_text("acme").status_code for _ in range(3)] == [503, 503, 201]
    sent = acme.get("/_sim/sent").json()
    assert [s["message_id"] is not None for s in sent] == [False, False, True]


def test_a_rate_limit_is_429_with_retry_after(acme: Client) -> None:
    _fault(acme, kind="rate_limit", retry_after=7)
    answer = acme.send_text("acme")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"


def test_an_html_fault_is_a_502_with_an_html_body(acme: Client) -> None:
    _fault(acme, kind="html")
    answer = acme.send_text("acme")
    assert answer.status_code == 502
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in answer.text


def test_drop_connection_closes_the_socket_without_an_answer(acme: Client) -> None:
    _fault(acme, kind="drop_connection")
    with pytest.raises(requests.ConnectionError):
        acme.send_text("acme")
    assert acme.send_text("acme").status_code == 201


def test_drop_after_processing_means_the_message_was_really_sent(acme: Client) -> None:
    _fault(acme, kind="drop_connection", when="after")
    with pytest.raises(requests.ConnectionError):
        acme.send_text("acme")
    [record] = acme.get("/_sim/sent").json()
    assert record["message_id"] is not None
    assert record["status"] is None
    assert record["fault"] == "drop_connection"


def test_session_closed_answers_the_connection_closed_500_once(acme: Client) -> None:
    _fault(acme, kind="session_closed")
    answer = acme.send_text("acme")
    assert answer.status_code == 500
    assert answer.json()["response"]["message"] == "Connection Closed"
    assert acme.send_text("acme").status_code == 201


def test_a_graph_error_fault_is_a_201_without_a_key(acme: Client) -> None:
    _fault(acme, kind="graph_error", graph_code=131026)
    answer = acme.send_text("acme")
    assert answer.status_code == 201
    assert "key" not in answer.json()
    assert answer.json()["code"] == 131026


def test_faults_match_only_their_route_prefix_and_can_be_cleared(acme: Client) -> None:
    _fault(acme, kind="status", status=500, count=-1)
    assert acme.get("/instance/connectionState/acme").status_code == 200
    assert acme.send_text("acme").status_code == 500
    assert acme.send_text("acme").status_code == 500
    assert acme.delete("/_sim/faults").status_code == 200
    assert acme.send_text("acme").status_code == 201


def test_an_invalid_fault_spec_is_rejected(client: Client) -> None:
    answer = client.post("/_sim/faults", json={"route_prefix": "/message", "kind": "gremlins"})
    assert answer.status_code == 400
