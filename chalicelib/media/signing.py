"""Local media links: ``/media/{id}?expires=<unix>&signature=<hex>``, HMAC-SHA256 over the id and
the expiry, so the link needs no API key and cannot be stretched or pointed at another file."""

from __future__ import annotations

import hashlib
import hmac

MAX_ID_CHARS = 64


def signature(key: bytes, media_id: str, expires: int) -> str:
    return hmac.new(key, f"media:{media_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def verify(key: bytes, media_id: str, expires: str | None, presented: str | None, *, now: float) -> bool:
    """Whether the link is ours (constant-time comparison) and not expired."""
    if not expires or not presented or not expires.isdigit() or len(expires) > 12:
        return False
    if len(media_id) > MAX_ID_CHARS or len(presented) != 64:
        return False
    expected = signature(key, media_id, int(expires))
    return hmac.compare_digest(expected, presented.lower()) and int(expires) > now
