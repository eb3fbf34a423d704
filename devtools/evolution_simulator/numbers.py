"""Number and value checks copied from Evolution's helpers: createJid, isURL, isBase64, emoji."""

from __future__ import annotations

import re
import unicodedata

_FULL_JID_MARKERS = ("@g.us", "@s.whatsapp.net", "@lid", "@broadcast")
_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$")
_URL = re.compile(
    r"^(?:(?:https?|ftp)://)?"  # protocol optional, as class-validator's isURL defaults
    r"(?:[^\s:@/]+(?::[^\s@/]*)?@)?"  # user:pass@
    r"(?:(?:[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]*[a-z0-9\u00a1-\uffff])?\.)+"
    r"[a-z\u00a1-\uffff]{2,}|\d{1,3}(?:\.\d{1,3}){3})"  # a host WITH a TLD, or an IPv4
    r"(?::\d{1,5})?(?:[/?#]\S*)?$",
    re.IGNORECASE,
)


def _format_mx_ar(number: str) -> str:
    """Drop the extra mobile digit of MX (52 1 …) and AR (54 9 …) 13-digit numbers."""
    prefix = {"52": "1", "54": "9"}.get(number[:2])
    if prefix and len(number) == 13 and number[2] == prefix:
        return number[:2] + number[3:]
    return number


def _format_br(number: str) -> str:
    """Evolution's formatBRNumber: 55+DDD≥31 mobile numbers lose the 9th digit."""
    match = re.fullmatch(r"(\d{2})(\d{2})\d(\d{8})", number)
    if not match or match.group(1) != "55":
        return number
    if int(match.group(3)[0]) < 7 or int(match.group(2)) < 31:
        return number
    return match.group(1) + match.group(2) + match.group(3)


def create_jid(number: str) -> str:
    """The JID Evolution derives from a ``number`` field (full JIDs pass through untouched)."""
    number = re.sub(r":\d+", "", number, count=1)
    if any(marker in number for marker in _FULL_JID_MARKERS):
        return number
    number = re.sub(r"[\s+()]", "", number).split(":")[0].split("@")[0]
    if "-" in number and len(number) >= 24:
        return re.sub(r"[^\d-]", "", number) + "@g.us"
    digits = re.sub(r"\D", "", number)
    if len(digits) >= 18:
        return digits + "@g.us"
    return _format_br(_format_mx_ar(digits)) + "@s.whatsapp.net"


def jid_user(jid: str) -> str:
    """The part before ``@``."""
    return jid.split("@", 1)[0]


def is_base64(value: object) -> bool:
    """class-validator's isBase64: strict alphabet, padded, length a multiple of 4."""
    return isinstance(value, str) and len(value) % 4 == 0 and bool(_BASE64.match(value))


def is_url(value: object) -> bool:
    """Close to class-validator's isURL defaults: a TLD is required, so ``localhost`` fails."""
    return isinstance(value, str) and bool(_URL.match(value))


def is_single_emoji(value: str) -> bool:
    """Roughly emoji-regex: one pictographic grapheme (ZWJ sequences, skin tones, flags allowed)."""
    if not value:
        return False
    joiners = {"\u200d", "\ufe0f", "\ufe0e", "\u20e3"}
    base = [
        ch
        for ch in value
        if ch not in joiners and not ("\U0001f3fb" <= ch <= "\U0001f3ff")  # skin tones
    ]
    if not base or any(unicodedata.category(ch) not in {"So", "Sk", "Cn"} for ch in base):
        return False
    flags = [ch for ch in base if "\U0001f1e6" <= ch <= "\U0001f1ff"]
    if flags:
        return len(flags) == 2 and len(base) == 2
    return len(base) == 1 or "\u200d" in value
