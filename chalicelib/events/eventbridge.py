"""Delivery to an Amazon EventBridge bus: one ``PutEvents`` entry per event."""

from __future__ import annotations

from functools import cache
from typing import Any

from chalicelib.events.http import AttemptResult
from chalicelib.events.types import Event

SOURCE = "whatsapp-evolution"
MAX_DETAIL_BYTES = 256 * 1024


@cache
def _client() -> Any:
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    return boto3.client(
        "events", config=Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard"})
    )


def put_event(bus_arn: str, event: Event, *, client: Any = None) -> AttemptResult:
    """Put ``event`` on the bus (source ``whatsapp-evolution``, detail-type = the event type)."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    detail = event.body()
    if len(detail.encode()) > MAX_DETAIL_BYTES:
        return AttemptResult("refused", error="the event is larger than EventBridge's 256 KB")
    try:
        answer = (client or _client()).put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": event.type,
                    "Detail": detail,
                    "EventBusName": bus_arn,
                    "Resources": [],
                }
            ]
        )
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "ClientError")
        if code == "ResourceNotFoundException":
            return AttemptResult("gone", error="the event bus does not exist")
        return AttemptResult("retry", error=f"EventBridge refused: {code}")
    except BotoCoreError as e:
        return AttemptResult("retry", error=f"EventBridge unreachable: {type(e).__name__}")
    entries = answer.get("Entries", [])
    if answer.get("FailedEntryCount", 0) or not entries or "EventId" not in entries[0]:
        code = entries[0].get("ErrorCode", "unknown") if entries else "no entry"
        return AttemptResult("retry", error=f"EventBridge did not accept the event: {code}")
    return AttemptResult("delivered", status_code=200)
