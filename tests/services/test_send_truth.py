"""A send tells the truth under every store and upstream fault, on both stores: the answer never
says "nothing was sent" when Evolution may have sent, one key never sends twice, a key is
released only on proof the request never left, and later webhooks settle what stayed open.

The store is the real one (SQLite, or DynamoDB on moto) wrapped in :class:`Faulty`; Evolution is
a scripted fake whose errors are read from raw HTTP answers by the real ``error_from_response``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.evolution.errors import EvolutionConnectError, EvolutionError, error_from_response
from chalicelib.evolution.wire import SentMessage
from chalicelib.models.api import SendMessageRequest
from chalicelib.services.messages import MessageService, SendOutcome, request_fingerprint
from chalicelib.services.webhooks import WebhookService, parse_envelope
from chalicelib.settings import load_settings
from chalicelib.store.base import ClaimLostError
from chalicelib.store.dynamodb import TABLE_DEFINITION, DynamoDBStore
from tests.conftest import load_webhook
from tests.faults.faulty import Faulty
from tests.store.conftest import _dynamodb_backend, _sqlite_backend, dynamodb_table
from tests.store.dropping_proxy import DroppingProxy, MotoServer, dynamodb_client

__all__ = ["dynamodb_table"]  # a fixture, used by name

INSTANCE = "truth"
NUMBER = "5511999999999"
JID = f"{NUMBER}@s.whatsapp.net"
TEXT = "Hola Ana"
BODY = {"to": f"+{NUMBER}", "text": TEXT}
LEASE_PASSED_S = 3600.0  # far beyond any in-progress lease, far within the key's 24 h
STORE_DOWN = errors.StoreUnavailableError("The message store is unavailable right now; try again shortly.")


class Clock:
    def __init__(self) -> None:
        self.now = 1_795_600_800.0

    def __call__(self) -> float:
        return self.now


class ScriptedEvolution:
    """Answers each send from a script: a ``SentMessage``, or an error raised; ``during`` runs
    while Evolution holds the request (after it has sent)."""

    def __init__(self) -> None:
        self.sends: list[str] = []
        self.error: EvolutionError | None = None
        self.during: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def send_text(self, instance: str, number: str, text: str, **_: Any) -> SentMessage:
        with self._lock:
            self.sends.append(text)
            n = len(self.sends)
        if self.error is not None:
            raise self.error
        if self.during is not None:
            self.during()
        return SentMessage(
            message_id=f"3EB0TRUTH{n:04d}", remote_jid=JID, status="PENDING", message_type=None
        )


def answer(status: int, text: str) -> EvolutionError:
    """The error the client raises for this raw answer to a send."""
    _, error = error_from_response("sendText", status, text, expect_message_key=True)
    assert error is not None
    return error


def evolution_json(status: int, message: Any) -> str:
    """A body in Evolution's own error envelope."""
    import json

    return json.dumps({"status": status, "error": "Error", "response": {"message": message}})


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Faulty]:
    if request.param == "sqlite":
        yield Faulty(_sqlite_backend(tmp_path / "truth.db").store)
    else:
        yield Faulty(_dynamodb_backend(request.getfixturevalue("dynamodb_table")).store)


class World:
    """The message and webhook services over one (faulty) store and the scripted Evolution."""

    def __init__(self, store: Faulty, tmp_path: Path) -> None:
        self.store = store
        self.evolution = ScriptedEvolution()
        self.clock = Clock()
        settings = load_settings(
            EVOLUTION_API_URL="http://evolution.test",
            EVOLUTION_API_KEY="k",
            INSTANCE_NAME=INSTANCE,
            API_KEYS="key",
            WEBHOOK_SECRET="s" * 32,
            STORE_URL=f"sqlite:///{tmp_path}/unused.db",
        )
        self.messages = MessageService(
            evolution=self.evolution,  # type: ignore[arg-type]
            store=store,  # type: ignore[arg-type]
            settings=settings,
            clock=self.clock,
            sleep=lambda s: setattr(self.clock, "now", self.clock.now + s),
        )
        self.webhooks = WebhookService(store=store, instance=INSTANCE)  # type: ignore[arg-type]

    def send(self, key: str | None = None, body: dict[str, Any] | None = None) -> SendOutcome:
        body = body or BODY
        req = SendMessageRequest.model_validate(body)
        try:
            return self.messages.deliver(
                req,
                idempotency_key=key,
                fingerprint=request_fingerprint("/messages", body),
            )
        except errors.ServiceError as exc:
            return SendOutcome(exc.status, errors.error_body(exc), exc.headers())

    def webhook(self, name: str, **data: Any) -> dict[str, Any]:
        envelope = load_webhook(name)
        envelope["instance"] = INSTANCE
        envelope["data"] = {**envelope["data"], **data}
        return self.webhooks.handle(parse_envelope(envelope, received_at=datetime.now(UTC)))

    def send_message_webhook(self, message_id: str, text: str = TEXT) -> dict[str, Any]:
        return self.webhook(
            "send.message",
            key={"remoteJid": JID, "fromMe": True, "id": message_id},
            message={"conversation": text},
        )

    def ack(self, message_id: str, status: str = "DELIVERY_ACK") -> dict[str, Any]:
        return self.webhook("messages.update.delivery", keyId=message_id, remoteJid=JID, status=status)

    def record(self, lookup: str) -> dict[str, Any]:
        found = self.store.inner.get_message(INSTANCE, lookup)
        assert found is not None, f"no record for {lookup}"
        return found.public()

    def outbound(self) -> list[dict[str, Any]]:
        page = self.store.inner.list_messages(INSTANCE, direction="outbound", limit=100)
        return [r.public() for r in page.items]

    def store_breaks_while_evolution_sends(self, error: BaseException = STORE_DOWN) -> None:
        """From the moment Evolution has sent, every store call fails, until ``heal``."""

        def down() -> None:
            for method in dir(self.store.inner):
                if not method.startswith("_") and callable(getattr(self.store.inner, method)):
                    self.store.fail(method, error, nth=self.store.calls[method] + 1, times=1000)

        self.evolution.during = down

    def heal(self) -> None:
        self.store.heal()
        self.evolution.during = None


@pytest.fixture
def world(store: Faulty, tmp_path: Path) -> World:
    return World(store, tmp_path)


# -- 1. the store fails after Evolution sent ------------------------------------------------------


def test_a_store_outage_after_the_send_still_answers_201_with_the_ids_evolution_gave(world: World) -> None:
    world.store_breaks_while_evolution_sends()

    first = world.send()

    assert first.status == 201, first.body
    assert first.body["message_id"] == "3EB0TRUTH0001"
    assert first.body["id"].startswith("msg_")
    assert world.evolution.sends == [TEXT]


def test_after_an_outage_the_send_message_webhook_settles_the_record_and_a_same_key_retry_replays(
    world: World,
) -> None:
    world.store_breaks_while_evolution_sends()
    first = world.send(key="k-outage")
    world.heal()

    settled = world.send_message_webhook("3EB0TRUTH0001")
    again = world.send(key="k-outage")

    assert settled["duplicate"] is False
    assert first.status == 201, first.body
    assert again.status == 201, again.body
    assert again.body["id"] == first.body["id"]
    assert again.body["message_id"] == "3EB0TRUTH0001"
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert world.record(first.body["id"])["message_id"] == "3EB0TRUTH0001"
    assert world.evolution.sends == [TEXT], "sent once"


def test_a_claim_whose_lease_ran_out_after_the_send_answers_unknown_and_never_resends(world: World) -> None:
    world.store_breaks_while_evolution_sends()
    first = world.send(key="k-lease")
    world.heal()
    world.clock.now += LEASE_PASSED_S

    again = world.send(key="k-lease")
    third = world.send(key="k-lease")

    assert first.status == 201, first.body
    assert again.status == 504, again.body
    assert again.body["Details"][0]["id"] == first.body["id"]
    assert again.body["Details"][0]["status"] == "unknown"
    assert world.record(first.body["id"])["status"] == "unknown"
    assert (third.status, third.body) == (again.status, again.body), "the key now keeps that answer"
    assert world.evolution.sends == [TEXT], "sent once"


def test_without_a_key_an_outage_after_the_send_leaves_no_reason_to_retry(world: World) -> None:
    world.store_breaks_while_evolution_sends()

    first = world.send()
    world.heal()

    assert first.status == 201, first.body
    assert world.evolution.sends == [TEXT]
    assert [r["id"] for r in world.outbound()] == [first.body["id"]], "the write-ahead record exists"


def test_an_unexpected_store_error_after_the_send_still_tells_the_truth(world: World) -> None:
    world.store_breaks_while_evolution_sends(ArithmeticError("decimal.Underflow"))

    first = world.send(key="k-arith")
    world.heal()
    world.clock.now += LEASE_PASSED_S
    again = world.send(key="k-arith")

    assert first.status == 201, first.body
    assert again.status in {201, 504}, again.body
    assert world.evolution.sends == [TEXT], "sent once"


def test_a_store_outage_before_the_send_answers_503_and_sends_nothing(world: World) -> None:
    world.store.fail("claim_idempotency", STORE_DOWN, times=1000)
    world.store.fail("create_message", STORE_DOWN, times=1000)

    first = world.send(key="k-before")

    assert first.status == 503, first.body
    assert first.body["Code"] == "StoreUnavailable"
    assert world.evolution.sends == []


# -- 3. what proves a request never left, and what does not -----------------------------------------


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (500, evolution_json(500, ["Error: socket hang up"])),
        (502, '{"message": "Bad Gateway"}'),
        (500, '{"message": "Internal server error"}'),
    ],
    ids=["evolution-500", "gateway-502-json", "gateway-500-json"],
)
def test_a_5xx_after_the_request_may_have_arrived_is_unknown_and_a_later_webhook_settles_it(
    world: World, status: int, text: str
) -> None:
    world.evolution.error = answer(status, text)
    first = world.send(key="k-5xx")
    world.evolution.error = None

    world.send_message_webhook("3EB0LATE5XX")
    again = world.send(key="k-5xx")

    detail = first.body["Details"][0]
    assert detail["status"] == "unknown"
    assert "may or may not have been sent" in first.body["Message"]
    record = world.record(detail["id"])
    assert record["message_id"] == "3EB0LATE5XX"
    assert record["status"] == "pending"
    assert again.body == first.body and again.headers.get("Idempotent-Replayed") == "true"
    assert world.evolution.sends == [TEXT], "sent once"


@pytest.mark.parametrize(("status", "text"), [(503, ""), (429, ""), (503, "<html>busy</html>")])
def test_a_bare_503_or_429_is_no_proof_the_request_never_left_and_the_key_is_kept(
    world: World, status: int, text: str
) -> None:
    world.evolution.error = answer(status, text)
    first = world.send(key="k-bare")
    world.evolution.error = None

    again = world.send(key="k-bare")

    assert first.body["Details"][0]["status"] == "unknown"
    assert again.body == first.body and again.headers.get("Idempotent-Replayed") == "true"
    assert world.evolution.sends == [TEXT], "sent once"


@pytest.mark.parametrize(
    "error",
    [
        EvolutionConnectError("sendText", "connection refused"),
        answer(500, evolution_json(500, "Connection Closed")),
        answer(503, '{"status":503,"code":"LICENSE_REQUIRED","message":"license required"}'),
        answer(429, evolution_json(429, "Too many requests")),
    ],
    ids=["connect-error", "evolution-session-closed", "evolution-license-503", "evolution-429"],
)
def test_proof_the_request_never_left_releases_the_key_and_a_retry_sends(
    world: World, error: EvolutionError
) -> None:
    world.evolution.error = error
    first = world.send(key="k-proof")
    world.evolution.error = None

    again = world.send(key="k-proof")

    assert first.status in {429, 503}, first.body
    assert again.status == 201, again.body
    assert world.evolution.sends == [TEXT, TEXT], "the first never went out"
    assert [r["id"] for r in world.outbound()] == [again.body["id"]], "no record of what never left"


def test_a_failed_record_that_later_shows_send_message_and_acks_moves_on(world: World) -> None:
    world.evolution.error = answer(400, evolution_json(400, ["Error: unexpected"]))
    first = world.send()
    world.evolution.error = None

    world.send_message_webhook("3EB0WENTOUT")
    world.ack("3EB0WENTOUT", "DELIVERY_ACK")

    record = world.record(first.body["Details"][0]["id"])
    assert first.body["Details"][0]["status"] == "failed"
    assert record["message_id"] == "3EB0WENTOUT"
    assert record["status"] == "delivered"
    assert [h["status"] for h in record["status_history"]] == ["failed", "delivered"]


def test_a_record_the_store_refuses_for_good_is_a_400_nothing_is_sent_and_the_key_is_free(
    world: World,
) -> None:
    world.store.fail("begin_send", errors.StoreRejectedError("too large"), times=2)

    first = world.send(key="k-rejected")
    again = world.send(key="k-rejected")

    assert (first.status, first.body["Code"]) == (400, "ValidationError")
    assert (again.status, again.body["Code"]) == (400, "ValidationError"), "not 409: the key was given back"
    assert world.evolution.sends == []
    assert world.outbound() == []


def test_a_claim_taken_over_before_the_write_ahead_sends_nothing(world: World) -> None:
    world.store.fail("begin_send", ClaimLostError("taken over"))

    first = world.send(key="k-lost")

    assert (first.status, first.body["Code"]) == (409, "IdempotencyKeyInUse")
    assert world.evolution.sends == []


# -- 2. a lost DynamoDB answer at any step of a send ------------------------------------------------


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.mark.parametrize("nth", [1, 2])
@pytest.mark.parametrize("operation", ["PutItem", "TransactWriteItems", "GetItem"])
def test_a_lost_dynamodb_answer_at_any_step_still_sends_once_and_answers_201(
    moto_server: MotoServer, tmp_path: Path, operation: str, nth: int
) -> None:
    """The claim (PutItem), the write-ahead and the settle (TransactWriteItems), the reads: each
    answer lost once in turn, botocore retrying as in production."""
    with DroppingProxy(moto_server.url) as proxy:
        client = dynamodb_client(proxy.url)
        table = f"truth-{operation.lower()}-{nth}"
        client.create_table(TableName=table, **TABLE_DEFINITION)
        world = World(Faulty(DynamoDBStore(table, client=client)), tmp_path)
        proxy.drop(operation, nth=nth)

        first = world.send(key="k-lost-answer")
        again = world.send(key="k-lost-answer")
        dropped = proxy.dropped

    assert dropped == [operation], "an answer was lost"
    assert first.status == 201, first.body
    assert again.body == first.body and again.headers.get("Idempotent-Replayed") == "true"
    assert world.evolution.sends == [TEXT], "sent once"
    assert world.record(first.body["id"])["message_id"] == first.body["message_id"]
