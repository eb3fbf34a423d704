"""Write-ahead sends on DynamoDB: each step is one ``TransactWriteItems`` over the record, its
pointer or marker, and the claim; every step recognises its own earlier attempt by its nonce."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from chalicelib.clock import now_iso
from chalicelib.errors import StoreUnavailableError
from chalicelib.events.types import message_event
from chalicelib.models.records import MessageRecord
from chalicelib.store.base import ClaimLostError, DuplicateMessageError
from chalicelib.store.dynamodb.codec import encode
from chalicelib.store.dynamodb.core import WRITER, ConditionFailedError
from chalicelib.store.dynamodb.idempotency import idempotency_key, release_claim
from chalicelib.store.dynamodb.messages import DynamoDBMessages, msg_key, unknown_key
from chalicelib.store.dynamodb.table import model_fields
from chalicelib.store.rules import UNAVAILABLE, is_written_ahead, new_writer, settle

logger = logging.getLogger(__name__)

SETTLE_ATTEMPTS = 4  # a webhook may change the record between our read and our write


class DynamoDBSends(DynamoDBMessages):
    """:class:`chalicelib.store.base.SendStore` on DynamoDB (over the message and claim items)."""

    def begin_send(self, record: MessageRecord, *, key: str | None = None, writer: str | None = None) -> None:
        extra: list[dict[str, Any]] = []
        if key is not None:
            extra.append({"Update": self._point_claim(key, writer or "", record.id)})
        try:
            self._create(record, extra)
        except DuplicateMessageError:
            if key is not None and not self._claim_points_at(key, writer or "", record.id):
                raise ClaimLostError(f"the claim of {key!r} is no longer this request's") from None
            raise

    def _point_claim(self, key: str, writer: str, record_id: str) -> dict[str, Any]:
        return {
            "TableName": self.table_name,
            "Key": encode(idempotency_key(key)),
            "UpdateExpression": "SET #rid = :rid",
            "ConditionExpression": "#writer = :writer AND #state = :in_progress",
            "ExpressionAttributeNames": {"#rid": "record_id", "#writer": WRITER, "#state": "state"},
            "ExpressionAttributeValues": encode(
                {":rid": record_id, ":writer": writer, ":in_progress": "in_progress"}
            ),
        }

    def _claim_points_at(self, key: str, writer: str, record_id: str) -> bool:
        claim = self._get(idempotency_key(key))
        return claim is not None and claim.get(WRITER) == writer and claim.get("record_id") == record_id

    def finish_send(
        self,
        id: str,
        status: str,
        *,
        at: str,
        message_id: str | None = None,
        jid: str | None = None,
        error: dict[str, Any] | None = None,
        key: str | None = None,
        response: tuple[int, dict[str, Any], dict[str, str]] | None = None,
    ) -> MessageRecord | None:
        for _ in range(SETTLE_ATTEMPTS):
            item = self._get(msg_key(id))
            if item is None:
                self._complete(key, response)
                return None
            record = MessageRecord.model_validate(model_fields(item))
            given = message_id
            if given is not None and record.message_id is None:
                holder = self._record_id(record.instance, given)
                if holder is not None and holder != id:
                    given = None  # a webhook gave it to a twin (same chat and content)
            settled = settle(record, status, at, message_id=given, jid=jid, error=error)
            writer = new_writer()
            operations: list[dict[str, Any]] = [self._replace(settled, writer, item.get(WRITER))]
            attached = settled.message_id is not None and record.message_id is None
            if attached and settled.message_id is not None:
                operations.append(self._pointer(settled, settled.message_id))
                marker = {"TableName": self.table_name, "Key": encode(unknown_key(record.instance, id))}
                operations.append({"Delete": marker})
            if key is not None and response is not None:
                operations.append({"Update": self._done(key, response)})
            if not is_written_ahead(record) and settled.status != record.status:
                # a webhook settled it first: this outcome moves it on (a send's own first
                # outcome is its answer, not a change to report)
                operations += self._event_items(message_event("message.status", settled, at=now_iso()))
            try:
                self._transact(operations)
            except ConditionFailedError:
                if not self._written_by(msg_key(id), writer):
                    continue  # the record changed under us (a webhook): read it again
            if attached and settled.message_id is not None:
                folded, _ = self._fold_orphans(settled, settled.message_id)
                return folded or settled
            return settled
        raise StoreUnavailableError(UNAVAILABLE)

    def _replace(self, record: MessageRecord, writer: str, previous: str | None) -> dict[str, Any]:
        """The put of the whole settled record, only over the version that was read."""
        put = self._put(self._record_item(record, writer), condition="#writer = :previous")
        if previous is None:
            put["Put"]["ConditionExpression"] = "attribute_exists(pk) AND attribute_not_exists(#writer)"
            put["Put"]["ExpressionAttributeNames"] = {"#writer": WRITER}
        else:
            put["Put"]["ExpressionAttributeNames"] = {"#writer": WRITER}
            put["Put"]["ExpressionAttributeValues"] = encode({":previous": previous})
        return put

    def _done(self, key: str, response: tuple[int, dict[str, Any], dict[str, str]]) -> dict[str, Any]:
        """The update that completes the claim of ``key`` with the answer to replay (whatever
        state it is in: the answer is the truth either way)."""
        code, body, headers = response
        return {
            "TableName": self.table_name,
            "Key": encode(idempotency_key(key)),
            "UpdateExpression": "SET #state = :done, #code = :code, #body = :body, #hdr = :hdr",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": {
                "#state": "state",
                "#code": "status_code",
                "#body": "body",
                "#hdr": "headers",
            },
            "ExpressionAttributeValues": encode(
                {":done": "done", ":code": code, ":body": body, ":hdr": headers}
            ),
        }

    def _complete(self, key: str | None, response: tuple[int, dict[str, Any], dict[str, str]] | None) -> None:
        if key is None or response is None:
            return
        with contextlib.suppress(ConditionFailedError):
            self._call(
                "update_item", **{k: v for k, v in self._done(key, response).items() if k != "TableName"}
            )

    def abandon_send(self, id: str, *, key: str | None = None, writer: str | None = None) -> None:
        item = self._get(msg_key(id))  # only to learn the instance; the deletes are conditional
        operations: list[dict[str, Any]] = []
        if item is not None:
            record = MessageRecord.model_validate(model_fields(item))
            delete = {
                "TableName": self.table_name,
                "Key": encode(msg_key(id)),
                "ConditionExpression": "#status = :pending AND attribute_not_exists(#mid)",
                "ExpressionAttributeNames": {"#status": "status", "#mid": "message_id"},
                "ExpressionAttributeValues": encode({":pending": "pending"}),
            }
            marker = {"TableName": self.table_name, "Key": encode(unknown_key(record.instance, id))}
            operations += [{"Delete": delete}, {"Delete": marker}]
        if key is not None:
            operations.append({"Delete": {"TableName": self.table_name, **release_claim(key, writer)}})
        if not operations:
            return
        try:
            self._transact(operations)
        except ConditionFailedError:
            # Settled meanwhile, or the claim is no longer ours (or a retry met its own delete):
            # leave both as they are; an unsettled record is never re-sent blindly.
            logger.warning("a send that never left could not be abandoned", extra={"id": id})
