"""DynamoDB backend of the store: one mixin per concern, composed over :class:`DynamoDBCore`, on
the single table described in :mod:`chalicelib.store.dynamodb.table`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.store.dynamodb.broadcasts import DynamoDBBroadcasts
from chalicelib.store.dynamodb.core import DynamoDBCore
from chalicelib.store.dynamodb.events import DynamoDBEvents
from chalicelib.store.dynamodb.idempotency import DynamoDBIdempotency
from chalicelib.store.dynamodb.instances import DynamoDBInstances
from chalicelib.store.dynamodb.media import DynamoDBMedia
from chalicelib.store.dynamodb.messages import DynamoDBMessages
from chalicelib.store.dynamodb.sends import DynamoDBSends
from chalicelib.store.dynamodb.table import LIST_INDEX, TABLE_DEFINITION, TTL_ATTRIBUTE

if TYPE_CHECKING:
    from chalicelib.store.base import Store

__all__ = ["LIST_INDEX", "TABLE_DEFINITION", "TTL_ATTRIBUTE", "DynamoDBCore", "DynamoDBStore"]


class DynamoDBStore(
    DynamoDBIdempotency,
    DynamoDBSends,
    DynamoDBMessages,
    DynamoDBInstances,
    DynamoDBEvents,
    DynamoDBMedia,
    DynamoDBBroadcasts,
):
    """The store on one DynamoDB table; atomic through conditions and transactions.

    A new concern adds its mixin (with a key prefix of its own) to this list.
    """


if TYPE_CHECKING:  # mypy proves the composition is a whole Store

    def _is_a_store(store: DynamoDBStore) -> Store:
        return store
