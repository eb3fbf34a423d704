"""Authenticate an Evolution webhook delivery by its shared secret: header, signed JWT or query token."""

from __future__ import annotations

import hmac
import math
import time
import warnings
from collections.abc import Mapping
from typing import Any, TypeGuard

import jwt

LEEWAY_SECONDS = 30
# Evolution's tokens live 10 minutes (exp = iat + 600); a longer-lived token is not one it minted,
# and a stolen one must not stay good for years.
MAX_LIFETIME_SECONDS = 15 * 60
_CLAIMS = {"app": "evolution", "action": "webhook"}


def authenticate(
    headers: Mapping[str, str],
    query: Mapping[str, str] | None,
    secret: str,
    *,
    now: float | None = None,
) -> str | None:
    """How the delivery proved it knows ``secret`` (``"header"``, ``"jwt"``, ``"token"``), or None.

    Accepted, in this order: ``X-Webhook-Secret: <secret>``; ``Authorization: Bearer <JWT>`` signed
    HS256 with the secret, with ``app="evolution"``, ``action="webhook"``, an ``iat`` not in the
    future, an unexpired ``exp`` at most :data:`MAX_LIFETIME_SECONDS` after ``iat`` (what Evolution
    sends for a webhook ``headers.jwt_key``); ``?token=<secret>`` (Evolution's global
    webhook cannot send headers). Secrets are compared in constant time; nothing here logs.
    """
    if not secret:
        return None
    lowered = {str(name).lower(): value for name, value in headers.items()}
    if _matches(lowered.get("x-webhook-secret"), secret):
        return "header"
    authorization = lowered.get("authorization")
    header = authorization if isinstance(authorization, str) else ""
    scheme, _, token = header.strip().partition(" ")
    current = time.time() if now is None else now
    if scheme.lower() == "bearer" and _valid_jwt(token.strip(), secret, current):
        return "jwt"
    if query is not None and _matches(query.get("token"), secret):
        return "token"
    return None


def _matches(given: object, secret: str) -> bool:
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), secret.encode("utf-8"))


def _valid_jwt(token: str, secret: str, now: float) -> bool:
    if not token:
        return False
    try:
        with warnings.catch_warnings():
            # A short secret is the settings' business to refuse, not a reason to warn per request.
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                # PyJWT would check time claims against its own clock: _in_time checks them at `now`.
                options={
                    "require": ["exp", "iat"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
    except (jwt.PyJWTError, ValueError):  # ValueError: a token that is not even text
        return False
    return _in_time(claims, now) and all(claims.get(k) == v for k, v in _CLAIMS.items())


def _in_time(claims: dict[str, Any], now: float) -> bool:
    """``exp`` not past, ``iat`` (and ``nbf`` when present) not in the future, each with the leeway;
    ``exp`` after ``iat`` by at most :data:`MAX_LIFETIME_SECONDS`."""
    exp, iat = claims.get("exp"), claims.get("iat")
    if not _is_number(exp) or not _is_number(iat) or exp <= now - LEEWAY_SECONDS:
        return False
    if not 0 < exp - iat <= MAX_LIFETIME_SECONDS:
        return False
    starts = [iat, *([claims["nbf"]] if "nbf" in claims else [])]
    return all(_is_number(start) and start <= now + LEEWAY_SECONDS for start in starts)


def _is_number(value: object) -> TypeGuard[int | float]:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
