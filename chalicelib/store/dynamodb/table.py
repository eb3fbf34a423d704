"""The DynamoDB table: its definition and its item layout (each concern owns its key prefixes)."""

# Item layout (``pk``/``sk`` are strings; ``expires_at`` is the TTL attribute, epoch seconds):
#
#   pk                            sk               item
#   IDEM#<key>                    IDEM             idempotency claim: key, fingerprint, state,
#                                                  created_at, expires_at, writer, lease_until
#                                                  [, record_id, status_code, body, headers]
#   MSG#<id>                      MSG              message record: the MessageRecord fields (None
#                                                  omitted), status_rank, gsi1pk, gsi1sk, expires_at
#   WAID#<instance>#<message_id>  POINTER          WhatsApp id -> record: id, expires_at
#   WAID#<instance>#<message_id>  ORPHAN#<status>  a status that came before its record: status, at,
#                                                  error, expires_at (first arrival of each status)
#   UNKNOWN#<instance>            <id>             a send without its WhatsApp id yet (written ahead,
#                                                  timed out, or failed) to reconcile: jid, fingerprint,
#                                                  expires_at (deleted when a message id is attached)
#   PARKED#<instance>#<jid>#<fp>  PARKED           a send.message that matched no record yet:
#                                                  message_id, status, expires_at (minutes)[, taken]
#   INST#<instance>               STATE            the InstanceState fields (no TTL: one per instance,
#                                                  and the health job's memory must survive quiet months)
#
# Every conditional write also sets ``writer``, a nonce per logical operation (see core.py).
#
# Prefixes by concern: IDEM (idempotency.py); MSG, WAID, UNKNOWN, PARKED (messages.py); INST
# (instances.py); EVT, OUTBOX, DST, DSTID, DLV (events.py); BC, BCR, SUP (broadcasts.py). A new
# concern takes a prefix of its own.
#
# GSI ``gsi1`` (projection ALL), on message records only: gsi1pk = LIST#<instance>#<direction>,
# gsi1sk = <id>. Ids are ``msg_<ULID>``, so a descending query is newest first; a listing of both
# directions merges the two partitions. Records are keyed by id alone because
# ``attach_message_id`` gets no instance.

from __future__ import annotations

from typing import Any

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
# Attributes of an item that are the table's, not the model's.
INTERNAL = ("pk", "sk", "gsi1pk", "gsi1sk", "status_rank", TTL_ATTRIBUTE, "writer")


def model_fields(item: dict[str, Any]) -> dict[str, Any]:
    """A decoded item without the table's own attributes."""
    return {k: v for k, v in item.items() if k not in INTERNAL}
