"""What a message's status and content mean, for sends and webhooks alike: Evolution's status
spellings mapped to the service's statuses, and the content fingerprint that matches a send with
its later webhook."""

from __future__ import annotations

import hashlib
import unicodedata

from chalicelib.models.records import Status

# Baileys' numeric statuses, in order, and every spelling mapped to the service's status.
_STATUS_CODES = ("ERROR", "PENDING", "SERVER_ACK", "DELIVERY_ACK", "READ", "PLAYED")
_STATUSES: dict[str, Status] = {
    "ERROR": "failed",
    "FAILED": "failed",
    "PENDING": "pending",
    "SERVER_ACK": "sent",
    "SENT": "sent",
    "DELIVERY_ACK": "delivered",
    "DELIVERED": "delivered",
    "READ": "read",
    "PLAYED": "played",
}


def status_name(raw: object) -> str | None:
    """Evolution's status by name (``3`` → ``"DELIVERY_ACK"``), upper-cased; None if blank or not
    a string or an int."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        return None
    text = str(raw).strip().upper()
    if text.isdecimal() and len(text) == 1 and int(text) < len(_STATUS_CODES):
        return _STATUS_CODES[int(text)]
    return text or None


def map_status(raw: object) -> Status | None:
    """The service's status for Evolution's (``"DELIVERY_ACK"``, ``"READ"``, ``3``…); None if unknown."""
    name = status_name(raw)
    return _STATUSES.get(name) if name else None


def content_fingerprint(kind: str, value: str) -> str:
    """A short, stable hash of a message's content, to match a send with its later webhook.

    ``kind`` is the message type (``text``, ``image``, …); ``value`` is what identifies the content:
    the text for ``text``; the caption (``""`` if none) for media; ``"<lat>,<lng>"`` with 6 decimals
    for ``location``; ``"<target message id>:<emoji>"`` for ``reaction``; the vCards (joined by a
    newline) for ``contact``; the question for ``poll``. Whitespace runs count as one space and the
    text is NFC-normalised, so the sending side and the webhook agree on the same message.
    """
    text = " ".join(unicodedata.normalize("NFC", value).split())
    payload = f"{kind.strip().lower()}\x1f{text}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(payload).hexdigest()[:32]
