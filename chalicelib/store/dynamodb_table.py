"""The DynamoDB table: its definition, its item layout and how items become models."""

# Item layout (``pk``/``sk`` are strings; ``expires_at`` is the TTL attribute, epoch seconds):
#
#   pk                            sk               item
#   IDEM#<key>                    IDEM             idempotency claim: key, fingerprint, state,
#                                                  created_at, expires_at[, status_code, body, headers]
#   MSG#<id>                      MSG              message record: the MessageRecord fields (None
#                                                  omitted), status_rank, gsi1pk, gsi1sk, expires_at
#   WAID#<instance>#<message_id>  POINTER          WhatsApp id -> record: id, expires_at
#   WAID#<instance>#<message_id>  ORPHAN#<status>  a status that came before its record: status, at,
#                                                  error, expires_at (first arrival of each status)
#   UNKNOWN#<instance>            <id>             a timed-out send to reconcile: jid, fingerprint,
#                                                  expires_at (deleted when a message id is attached)
#   PARKED#<instance>#<jid>#<fp>  PARKED           a send.message that matched no record yet:
#                                                  message_id, status, expires_at (minutes)
#   INST#<instance>               STATE            the InstanceState fields (no TTL: one per instance,
#                                                  and the health job's memory must survive quiet months)
#
# GSI ``gsi1`` (projection ALL), on message records only: gsi1pk = LIST#<instance>#<direction>,
# gsi1sk = <id>. Ids are ``msg_<ULID>``, so a descending query is newest first; a listing of both
# directions merges the two partitions. Records are keyed by id alone because
# ``attach_message_id`` gets no instance.

from __future__ import annotations

from typing import Any

from chalicelib.models.records import InstanceState, MessageRecord
from chalicelib.store.base import IdempotencyRecord
from chalicelib.store.dynamodb_codec import decode

LIST_INDEX = "gsi1"
TTL_ATTRIBUTE = "expires_at"
TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
    ],
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": LIST_INDEX,
            "KeySchema": [
                {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
INTERNAL = ("pk", "sk", "gsi1pk", "gsi1sk", "status_rank", TTL_ATTRIBUTE)


def parked_key(instance: str, jid: str, fingerprint: str) -> dict[str, str]:
    """The key of a parked ``send.message`` (by chat and content fingerprint)."""
    return {"pk": f"PARKED#{instance}#{jid}#{fingerprint}", "sk": "PARKED"}


def msg_key(id: str) -> dict[str, str]:
    """The key of a message record."""
    return {"pk": f"MSG#{id}", "sk": "MSG"}


def waid_pk(instance: str, message_id: str) -> str:
    """The partition of a WhatsApp id: its pointer and its orphan statuses."""
    return f"WAID#{instance}#{message_id}"


def unknown_key(instance: str, id: str) -> dict[str, str]:
    """The key of the marker of a timed-out send."""
    return {"pk": f"UNKNOWN#{instance}", "sk": id}


def record_from_item(item: dict[str, Any]) -> MessageRecord:
    """A message record from its low-level item."""
    data = decode(item)
    for name in INTERNAL:
        data.pop(name, None)
    return MessageRecord.model_validate(data)


def idempotency_from_item(item: dict[str, Any]) -> IdempotencyRecord:
    return IdempotencyRecord(
        key=item["key"],
        fingerprint=item["fingerprint"],
        state=item["state"],
        created_at=float(item["created_at"]),
        expires_at=float(item[TTL_ATTRIBUTE]),
        status_code=item.get("status_code"),
        body=item.get("body"),
        headers=item.get("headers") or {},
    )


def instance_state_from_item(item: dict[str, Any]) -> InstanceState:
    return InstanceState.model_validate({k: v for k, v in item.items() if k not in INTERNAL})
