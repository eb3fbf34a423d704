"""One HTTP attempt against a real loopback sink: 2xx delivers, 410 is gone, the rest retries."""

from __future__ import annotations

import time

import pytest

from chalicelib.events.http import post_event
from chalicelib.urlguard import Allowlist, URLPolicy
from tests.sink import running_sink

DEV = URLPolicy(allow_http=False, allow_loopback=True, allow_private=True, loopback_http_only=True)
PROD = URLPolicy(allow_http=False)
HEADERS = {"webhook-id": "evt_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"}


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_delivered(status: int) -> None:
    with running_sink(lambda h, b: status) as sink:
        result = post_event(sink.url, '{"a":1}', HEADERS, policy=DEV)

    assert (result.verdict, result.status_code) == ("delivered", status)
    (request,) = sink.received
    assert request.body == b'{"a":1}'
    assert request.headers["webhook-id"] == "evt_1"
    assert request.headers["content-type"] == "application/json"


def test_410_means_the_destination_is_gone() -> None:
    with running_sink(lambda h, b: 410) as sink:
        result = post_event(sink.url, "{}", HEADERS, policy=DEV)

    assert (result.verdict, result.status_code) == ("gone", 410)


@pytest.mark.parametrize("status", [301, 400, 401, 404, 429, 500, 503])
def test_other_statuses_are_retried_and_redirects_are_not_followed(status: int) -> None:
    with running_sink(lambda h, b: status) as sink:
        result = post_event(sink.url, "{}", HEADERS, policy=DEV)

    assert (result.verdict, result.status_code) == ("retry", status)
    assert str(status) in (result.error or "")


def test_a_sink_that_hangs_is_given_up_after_the_timeout() -> None:
    with running_sink(lambda h, b: "hang", hang_s=5) as sink:
        started = time.monotonic()
        result = post_event(sink.url, "{}", HEADERS, policy=DEV, timeout_s=0.5)
        elapsed = time.monotonic() - started

    assert result.verdict == "retry"
    assert "no answer within 0.5 s" in (result.error or "")
    assert elapsed < 3


def test_a_closed_port_is_retried() -> None:
    with running_sink() as sink:
        url = sink.url
    result = post_event(url, "{}", HEADERS, policy=DEV, timeout_s=1)

    assert result.verdict == "retry"
    assert "could not connect" in (result.error or "")


def test_the_url_is_checked_again_at_delivery_time_and_no_request_is_made() -> None:
    with running_sink() as sink:
        loopback = post_event(sink.url, "{}", HEADERS, policy=PROD)
        private = post_event(
            "https://crm.example/hooks", "{}", HEADERS, policy=PROD, resolve=lambda host: ["10.0.0.5"]
        )

    assert loopback.verdict == private.verdict == "refused"
    assert "loopback" in (loopback.error or "")
    assert "private" in (private.error or "")
    assert sink.received == []


def test_an_allowlisted_private_host_is_let_through() -> None:
    policy = URLPolicy(allow_http=True, allowlist=Allowlist.parse("127.0.0.1"))
    with running_sink() as sink:
        result = post_event(sink.url, "{}", HEADERS, policy=policy)

    assert result.verdict == "delivered"
