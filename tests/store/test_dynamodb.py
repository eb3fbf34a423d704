"""What only the DynamoDB backend promises: its table, item layout, error mapping, sparse pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib.errors import StoreUnavailableError
from chalicelib.store.base import LEASE_S
from chalicelib.store.dynamodb import TABLE_DEFINITION, TTL_ATTRIBUTE, DynamoDBStore
from chalicelib.store.dynamodb.codec import encode
from chalicelib.store.dynamodb.core import BACKOFF_CAP_S, TRANSACTION_ATTEMPTS
from chalicelib.store.rules import epoch
from tests.store.conftest import (
    INSTANCE,
    TABLE,
    SerializedClient,
    at,
    fake_aws_env,
    inbound,
    msg_id,
    outbound,
)

NOW = 1_795_600_800.0


def test_the_table_definition_creates_a_table_with_one_list_index_and_ttl(
    dynamodb_table: Any,
) -> None:
    dynamodb_table.update_time_to_live(
        TableName=TABLE,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    table = dynamodb_table.describe_table(TableName=TABLE)["Table"]

    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["gsi1"]
    assert TABLE_DEFINITION["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb_table.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"


def test_a_store_without_a_client_creates_its_own_on_first_use(dynamodb_table: Any) -> None:
    store = DynamoDBStore(TABLE)

    store.ping()
    store.create_message(outbound(1))

    assert store.get_message(INSTANCE, msg_id(1)) == outbound(1)


def test_items_carry_ttls_and_floats_are_stored_as_numbers(dynamodb_table: Any) -> None:
    store = DynamoDBStore(TABLE, client=dynamodb_table, retention_days=90)
    store.create_message(outbound(1, message_id="WA1", location={"latitude": -23.55}))
    store.claim_idempotency("key", "fp", now=NOW, ttl_s=86_400)
    store.update_instance_state(INSTANCE, state="open")

    record = _raw(dynamodb_table, f"MSG#{msg_id(1)}", "MSG")
    pointer = _raw(dynamodb_table, f"WAID#{INSTANCE}#WA1", "POINTER")
    claim = _raw(dynamodb_table, "IDEM#key", "IDEM")
    state = _raw(dynamodb_table, f"INST#{INSTANCE}", "STATE")

    ninety_days = int(epoch(at(1))) + 90 * 86_400
    assert record["expires_at"] == {"N": str(ninety_days)}
    assert pointer["expires_at"] == {"N": str(ninety_days)} and pointer["id"] == {"S": msg_id(1)}
    assert record["location"] == {"M": {"latitude": {"N": "-23.55"}}}
    assert record["status_rank"] == {"N": "10"}
    assert Decimal(claim["expires_at"]["N"]) == Decimal(int(NOW) + 86_400)
    assert "expires_at" not in state


def test_a_missing_table_surfaces_as_store_unavailable(dynamodb_table: Any) -> None:
    store = DynamoDBStore("no-such-table", client=dynamodb_table)

    for action in (
        store.ping,
        lambda: store.claim_idempotency("key", "fp", now=NOW, ttl_s=60),
        lambda: store.insert_inbound(inbound(1)),
        lambda: store.apply_status(INSTANCE, "WA1", "read", at=at(1)),
        lambda: store.list_messages(INSTANCE, direction=None, status=None, after=None, limit=5),
    ):
        with pytest.raises(StoreUnavailableError) as caught:
            action()
        assert isinstance(caught.value.__cause__, ClientError)
        assert caught.value.__cause__.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_unreachable_endpoint_surfaces_as_store_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_aws_env(monkeypatch)
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(connect_timeout=1, retries={"max_attempts": 1, "mode": "standard"}),
    )

    with pytest.raises(StoreUnavailableError) as caught:
        DynamoDBStore(TABLE, client=client).ping()
    assert isinstance(caught.value.__cause__, EndpointConnectionError)


class ConflictingClient:
    """A client whose transactions always collide with another writer."""

    def __init__(self) -> None:
        self.attempts = 0

    def transact_write_items(self, **_: Any) -> dict[str, Any]:
        self.attempts += 1
        raise ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
            },
            "TransactWriteItems",
        )


def test_transaction_conflicts_are_retried_after_pauses_then_surface_as_store_unavailable() -> None:
    client = ConflictingClient()
    pauses: list[float] = []

    with pytest.raises(StoreUnavailableError):
        DynamoDBStore(TABLE, client=client, sleep=pauses.append).insert_inbound(inbound(1))
    assert client.attempts == TRANSACTION_ATTEMPTS
    assert len(pauses) == TRANSACTION_ATTEMPTS - 1
    assert all(0 < p <= BACKOFF_CAP_S for p in pauses)


@pytest.mark.parametrize(
    "filters",
    [
        {"direction": None, "status": "read"},
        {"direction": "outbound", "status": "read"},
        {"direction": None, "status": None},
    ],
)
def test_sparse_pages_from_a_small_read_budget_never_skip_or_repeat(
    dynamodb_table: Any, filters: dict[str, Any]
) -> None:
    store = DynamoDBStore(
        TABLE, client=SerializedClient(dynamodb_table), query_page_size=2, max_query_rounds=2
    )
    expected = []
    for n in range(25):
        if n % 2:
            store.insert_inbound(inbound(n))
            matches = filters["status"] is None and filters["direction"] != "outbound"
        else:
            store.create_message(outbound(n, message_id=f"WA{n}"))
            if n % 5 == 0:
                store.apply_status(INSTANCE, f"WA{n}", "read", at=at(n + 1))
            matches = filters["status"] is None or n % 5 == 0
        if matches:
            expected.append(msg_id(n))

    seen, sizes, cursor = [], [], None
    for _ in range(40):
        page = store.list_messages(INSTANCE, after=cursor, limit=7, **filters)
        seen += [r.id for r in page.items]
        sizes.append(len(page.items))
        if page.next is None:
            break
        cursor = page.next

    assert seen == expected[::-1]
    assert page.next is None and max(sizes) <= 7
    if filters["status"] is not None:
        assert min(sizes) < 7  # the budget did cut pages short


def _raw(client: Any, pk: str, sk: str) -> dict[str, Any]:
    item: dict[str, Any] = client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
    return item


def test_a_claim_from_before_leases_counts_as_leased_from_its_creation(dynamodb_table: Any) -> None:
    store = DynamoDBStore(TABLE, client=dynamodb_table)
    item = {"pk": "IDEM#old", "sk": "IDEM", "key": "old", "fingerprint": "fp", "state": "in_progress"}
    item |= {"created_at": NOW, TTL_ATTRIBUTE: NOW + 86_400}
    dynamodb_table.put_item(TableName=TABLE, Item=encode(item))

    assert not store.claim_idempotency("old", "fp", now=NOW + LEASE_S - 1, ttl_s=86_400).claimed
    assert store.claim_idempotency("old", "fp", now=NOW + LEASE_S, ttl_s=86_400).claimed
