"""DynamoDB answers lost on the way back: botocore retries the write, the retry meets its own first
attempt, and the store still reports what really happened (through the dropping proxy in front of
moto's server). Plus the two other faults only DynamoDB has: transaction conflicts, retried with
backoff, and permanent refusals (an item over 400 KB, a number it cannot hold), reported as such.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.store.dynamodb import TABLE_DEFINITION, DynamoDBStore
from tests.store.conftest import INSTANCE, JID, at, fake_aws_env, inbound, msg_id, outbound
from tests.store.dropping_proxy import DroppingProxy, MotoServer, dynamodb_client

NOW = 1_795_600_800.0
_tables = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def proxy(server: MotoServer) -> Iterator[DroppingProxy]:
    with DroppingProxy(server.url) as proxy:
        yield proxy


@pytest.fixture
def store(proxy: DroppingProxy) -> DynamoDBStore:
    """A store on a fresh table, its client retrying as in production, through the proxy."""
    client = dynamodb_client(proxy.url)
    table = f"lost-{next(_tables)}"
    client.create_table(TableName=table, **TABLE_DEFINITION)
    return DynamoDBStore(table, client=client)


def test_a_claim_whose_answer_was_lost_is_still_ours(store: DynamoDBStore, proxy: DroppingProxy) -> None:
    proxy.drop("PutItem")

    claim = store.claim_idempotency("key-1", "fp", now=NOW, ttl_s=86_400)

    assert proxy.dropped == ["PutItem"] and proxy.count("PutItem") == 2
    assert claim.claimed is True
    again = store.claim_idempotency("key-1", "fp", now=NOW + 1, ttl_s=86_400)
    assert again.claimed is False, "and still exactly one claim wins"


def test_a_record_whose_answer_was_lost_is_created_once_without_a_duplicate_error(
    store: DynamoDBStore, proxy: DroppingProxy
) -> None:
    proxy.drop("PutItem")
    proxy.drop("TransactWriteItems")  # with the marker that lists it for reconciliation

    created = store.create_message(outbound(1))

    assert len(proxy.dropped) == 1
    assert created == outbound(1)
    assert store.get_message(INSTANCE, msg_id(1)) == outbound(1)
    with pytest.raises(Exception, match="already stored"):
        store.create_message(outbound(1))  # a real second create is still refused


def test_a_record_with_its_whatsapp_id_whose_transaction_answer_was_lost_is_created_once(
    store: DynamoDBStore, proxy: DroppingProxy
) -> None:
    proxy.drop("TransactWriteItems")

    created = store.create_message(outbound(2, message_id="WA2"))

    assert proxy.dropped == ["TransactWriteItems"]
    assert created.message_id == "WA2"
    assert store.get_message(INSTANCE, "WA2") == created


def test_an_inbound_message_whose_answer_was_lost_is_stored_once_and_reported_new(
    store: DynamoDBStore, proxy: DroppingProxy
) -> None:
    proxy.drop("TransactWriteItems")

    assert store.insert_inbound(inbound(3)) is True
    assert store.insert_inbound(inbound(3, id=msg_id(4))) is False, "a real re-delivery"
    assert store.get_message(INSTANCE, "IN000003") == inbound(3)


def test_a_status_update_whose_answer_was_lost_is_reported_applied(
    store: DynamoDBStore, proxy: DroppingProxy
) -> None:
    store.create_message(outbound(5, message_id="WA5"))
    proxy.drop("TransactWriteItems")  # a status change is one transaction with its event

    result = store.apply_status(INSTANCE, "WA5", "delivered", at=at(6))

    assert proxy.dropped == ["TransactWriteItems"]
    assert result.applied is True and result.duplicate is False
    assert result.record is not None and result.record.status == "delivered"
    assert store.apply_status(INSTANCE, "WA5", "delivered", at=at(7)).duplicate is True
    (event,) = store.undispatched_events(INSTANCE, limit=10)  # written once, with the change
    assert (event.type, event.data["status"]) == ("message.status", "delivered")


def test_a_parked_send_whose_take_answer_was_lost_is_still_taken_once(
    store: DynamoDBStore, proxy: DroppingProxy
) -> None:
    store.park_send(
        INSTANCE, jid=JID, fingerprint="fp", message_id="WA8", status="pending", now=NOW, ttl_s=300
    )
    proxy.drop("DeleteItem")
    proxy.drop("UpdateItem")  # whichever write the take uses

    taken = store.take_parked_send(INSTANCE, jid=JID, fingerprint="fp", now=NOW + 1)

    assert proxy.dropped, "an answer was lost"
    assert taken == ("WA8", "pending")
    assert store.take_parked_send(INSTANCE, jid=JID, fingerprint="fp", now=NOW + 2) is None


def test_a_send_parked_whose_answer_was_lost_is_reported_parked(
    store: DynamoDBStore, proxy: DroppingProxy
) -> None:
    proxy.drop("PutItem")

    parked = store.park_send(
        INSTANCE, jid=JID, fingerprint="fp", message_id="WA9", status="pending", now=NOW, ttl_s=300
    )

    assert proxy.dropped == ["PutItem"]
    assert parked is True


def test_a_message_id_attached_whose_answer_was_lost_is_reported_attached(
    store: DynamoDBStore, proxy: DroppingProxy
) -> None:
    store.create_message(outbound(10, status="unknown"))
    proxy.drop("TransactWriteItems")

    attached = store.attach_message_id(msg_id(10), "WA10", at=at(11), status="pending")

    assert proxy.dropped == ["TransactWriteItems"]
    assert attached is not None and attached.message_id == "WA10"


# -- conflicts and permanent refusals -----------------------------------------------------------------


class ConflictingClient:
    """A moto client whose first ``conflicts`` transactions are cancelled by a conflict."""

    def __init__(self, client: Any, conflicts: int) -> None:
        self._client = client
        self.conflicts = conflicts
        self.transactions = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        self.transactions += 1
        if self.transactions <= self.conflicts:
            reasons = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (
                len(kwargs["TransactItems"]) - 1
            )
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )
        return self._client.transact_write_items(**kwargs)


@pytest.fixture
def moto_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    fake_aws_env(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="conflicts", **TABLE_DEFINITION)
        yield client


def test_transaction_conflicts_are_retried_after_jittered_backoff_pauses(moto_table: Any) -> None:
    client = ConflictingClient(moto_table, conflicts=3)
    pauses: list[float] = []
    store = DynamoDBStore("conflicts", client=client, sleep=pauses.append)

    store.create_message(outbound(1, message_id="WA1"))

    assert client.transactions == 4
    assert len(pauses) == 3 and all(p > 0 for p in pauses)
    assert store.get_message(INSTANCE, "WA1") is not None


def test_an_item_dynamodb_refuses_is_a_permanent_error_not_unavailable(moto_table: Any) -> None:
    store = DynamoDBStore("conflicts", client=moto_table)

    with pytest.raises(errors.ServiceError) as refused:
        store.create_message(outbound(1, text="x" * 420_000))

    assert not isinstance(refused.value, errors.StoreUnavailableError)
    assert 400 <= refused.value.status < 500


def test_a_number_dynamodb_cannot_hold_is_a_permanent_error(moto_table: Any) -> None:
    store = DynamoDBStore("conflicts", client=moto_table)

    with pytest.raises(errors.ServiceError) as refused:
        store.create_message(outbound(1, location={"latitude": 1e-300, "longitude": 1.0}))

    assert not isinstance(refused.value, errors.StoreUnavailableError)
    assert 400 <= refused.value.status < 500


def test_ping_fails_when_the_table_does_not_exist(moto_table: Any) -> None:
    with pytest.raises(errors.StoreUnavailableError):
        DynamoDBStore("no-such-table", client=moto_table).ping()


def test_a_send_written_ahead_whose_answer_was_lost_is_written_once(
    store: DynamoDBStore, proxy: DroppingProxy
) -> None:
    claim = store.claim_idempotency("key-2", "fp", now=NOW, ttl_s=86_400)
    proxy.drop("TransactWriteItems")

    store.begin_send(outbound(20), key="key-2", writer=claim.record.writer)

    assert proxy.dropped == ["TransactWriteItems"]
    assert store.get_message(INSTANCE, msg_id(20)) == outbound(20)
    seen = store.claim_idempotency("key-2", "fp", now=NOW + 1, ttl_s=86_400)
    assert seen.record.record_id == msg_id(20)


def test_a_settle_whose_answer_was_lost_is_applied_once(store: DynamoDBStore, proxy: DroppingProxy) -> None:
    claim = store.claim_idempotency("key-3", "fp", now=NOW, ttl_s=86_400)
    store.begin_send(outbound(21), key="key-3", writer=claim.record.writer)
    proxy.drop("TransactWriteItems")

    settled = store.finish_send(
        msg_id(21), "pending", at=at(22), message_id="WA21", key="key-3", response=(201, {"id": "x"}, {})
    )

    assert proxy.dropped == ["TransactWriteItems"]
    assert settled is not None and settled.message_id == "WA21"
    assert store.get_message(INSTANCE, "WA21") == settled
    replay = store.claim_idempotency("key-3", "fp", now=NOW + 1, ttl_s=86_400)
    assert replay.record.state == "done" and replay.record.body == {"id": "x"}
