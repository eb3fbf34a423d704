"""The proxy in front of moto's server: it forwards, and loses chosen answers after the server
applied the request, so botocore's retry meets its own first attempt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ConnectionClosedError

from tests.store.dropping_proxy import DroppingProxy, MotoServer, dynamodb_client

KEY = {"pk": {"S": "a"}, "sk": {"S": "b"}}


@pytest.fixture(scope="module")
def proxy() -> Iterator[DroppingProxy]:
    with MotoServer() as server, DroppingProxy(server.url) as proxy:
        client = dynamodb_client(proxy.url)
        client.create_table(
            TableName="proxy-test",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield proxy


def test_a_dropped_answer_is_retried_by_botocore_and_the_retry_meets_the_first_write(
    proxy: DroppingProxy,
) -> None:
    client = dynamodb_client(proxy.url)
    proxy.drop("PutItem", nth=1)

    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(TableName="proxy-test", Item=KEY, ConditionExpression="attribute_not_exists(pk)")

    assert proxy.dropped == ["PutItem"]
    assert proxy.count("PutItem") == 2, "applied once, then retried"
    assert client.get_item(TableName="proxy-test", Key=KEY)["Item"] == KEY


def test_without_retries_the_client_sees_the_connection_close(proxy: DroppingProxy) -> None:
    client = dynamodb_client(proxy.url, retries={"mode": "standard", "total_max_attempts": 1})
    proxy.drop("DeleteItem", nth=2)

    client.delete_item(TableName="proxy-test", Key=KEY)  # the first answer arrives
    with pytest.raises(ConnectionClosedError):
        client.delete_item(TableName="proxy-test", Key=KEY)
    client.delete_item(TableName="proxy-test", Key=KEY)  # and the one after it again

    assert "Item" not in client.get_item(TableName="proxy-test", Key=KEY)
