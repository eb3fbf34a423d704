"""HS256 JWTs as jsonwebtoken signs them (any key length, no warning), with the standard library."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def webhook_bearer_token(key: str, *, now: float | None = None) -> str:
    """The token Evolution puts in ``Authorization: Bearer`` when a webhook has ``jwt_key``."""
    issued = int(now if now is not None else time.time())
    claims = {"iat": issued, "exp": issued + 600, "app": "evolution", "action": "webhook"}
    signing_input = _segment({"alg": "HS256", "typ": "JWT"}) + "." + _segment(claims)
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64url(signature)
