"""Baileys-like QR strings and pairing codes, rendered as real PNG data URLs with segno."""

from __future__ import annotations

import base64
import io
import secrets

import segno

# Baileys' bytesToCrockford alphabet (no 0, I, O, U).
_PAIRING_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
# Evolution's default QRCODE_COLOR.
_DARK = "#198754"


def _b64(size: int) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode()


def new_qr_code() -> str:
    """``2@<ref>,<noise key>,<identity key>,<adv secret>`` like a WhatsApp Web login QR."""
    return "2@" + ",".join((_b64(48), _b64(32), _b64(32), _b64(32)))


def new_pairing_code() -> str:
    """An 8-character pairing code."""
    return "".join(secrets.choice(_PAIRING_ALPHABET) for _ in range(8))


def png_data_url(code: str) -> str:
    """``data:image/png;base64,…`` of a scannable QR of ``code`` (error level H, margin 3)."""
    buffer = io.BytesIO()
    segno.make(code, error="h", micro=False).save(
        buffer, kind="png", scale=4, border=3, dark=_DARK, light="#ffffff"
    )
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
