"""The job envelope: what is queued, whatever the transport."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

MAX_PAYLOAD_BYTES = 64 * 1024  # well under SQS's 256 KB message limit
_KIND_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


class BadJobError(ValueError):
    """A queued body is not a job envelope (it goes to the dead-letter path, never retried)."""


@dataclass(frozen=True)
class Job:
    """One unit of background work.

    ``attempt`` counts the runs of this job (1 for the first); ``not_before`` is epoch seconds
    before which it must not run (a transport that cannot wait that long delivers it early and
    the runner queues it again for the rest of the wait).
    """

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    not_before: float = 0.0
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if not self.kind or len(self.kind) > 64 or not set(self.kind) <= _KIND_CHARS:
            raise BadJobError(f"job kind {self.kind!r} must be 1-64 of a-z 0-9 . _ -")
        if self.attempt < 1:
            raise BadJobError("a job's attempt starts at 1")

    def to_json(self) -> str:
        body = json.dumps(
            {
                "id": self.id,
                "kind": self.kind,
                "payload": self.payload,
                "attempt": self.attempt,
                "not_before": self.not_before,
            },
            separators=(",", ":"),
            sort_keys=True,
        )
        if len(body.encode()) > MAX_PAYLOAD_BYTES:
            raise BadJobError(f"a {self.kind} job is larger than {MAX_PAYLOAD_BYTES} bytes")
        return body

    @classmethod
    def from_json(cls, body: str | bytes) -> Job:
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("payload", {}), dict):
                raise BadJobError("a job envelope is a JSON object with an object payload")
            return cls(
                kind=str(data["kind"]),
                payload=data.get("payload", {}),
                attempt=int(data.get("attempt", 1)),
                not_before=float(data.get("not_before", 0.0)),
                id=str(data.get("id") or uuid.uuid4().hex),
            )
        except (ValueError, KeyError, TypeError) as e:
            if isinstance(e, BadJobError):
                raise
            raise BadJobError(f"not a job envelope: {e}") from None

    def again(self, *, not_before: float, attempt: int | None = None) -> Job:
        """The same job (same id), to run again no earlier than ``not_before``."""
        return replace(self, not_before=not_before, attempt=self.attempt if attempt is None else attempt)

    def due(self, now: float | None = None) -> bool:
        return self.not_before <= (time.time() if now is None else now)
