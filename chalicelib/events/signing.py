"""Destination secrets and Standard Webhooks signatures.

A destination's ``whsec_`` secret is never stored: it is derived when needed as
HMAC-SHA256(``EVENTS_SIGNING_KEY``, ``"<destination id>.<salt>"``), where the salt is random per
destination and kept with it. A copy of the table alone therefore reveals no secret; rotating
``EVENTS_SIGNING_KEY`` changes every destination's secret at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
MIN_KEY_BYTES = 32


def new_salt() -> str:
    return secrets.token_urlsafe(16)


def destination_secret(signing_key: str, destination_id: str, salt: str) -> str:
    """The destination's ``whsec_<base64 of 32 bytes>`` secret."""
    if len(signing_key.encode()) < MIN_KEY_BYTES:
        raise ValueError(f"the events signing key must be at least {MIN_KEY_BYTES} bytes")
    raw = hmac.new(signing_key.encode(), f"{destination_id}.{salt}".encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.b64encode(raw).decode()


def signed_headers(secret: str, *, msg_id: str, body: str, at: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers for ``body`` (signed with the ``standardwebhooks`` library)."""
    from standardwebhooks.webhooks import Webhook  # noqa: PLC0415

    moment = (at or datetime.now(UTC)).replace(microsecond=0)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, moment, body),
    }
