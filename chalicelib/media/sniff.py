"""The content type of a file from its first bytes, for the types WhatsApp carries.

Evolution's ``mimetype`` is what the sender's phone claimed; the stored and served type comes from
the bytes' signature whenever a signature is recognised and disagrees (a ``.pdf`` that is really an
executable is served as ``application/octet-stream``, never as what it claimed).
"""

from __future__ import annotations

import re

OCTET_STREAM = "application/octet-stream"
_MIMETYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
# Zip containers that office formats are: the declared type is kept when it is one of these.
_ZIP_BASED = frozenset(
    {
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/epub+zip",
    }
)
# Every type :func:`content_type` can answer with a recognised signature (the app serves them as bytes).
BINARY_MEDIA_TYPES = (
    OCTET_STREAM,
    "image/jpeg",
    "image/png",
    "application/pdf",
    "application/zip",
    "application/x-ole-storage",
    "image/webp",
    "image/gif",
    "audio/ogg",
    "audio/mpeg",
    "audio/mp4",
    "audio/aac",
    "video/mp4",
    "video/3gpp",
    "video/quicktime",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    *sorted(_ZIP_BASED),
)
_MP4_AUDIO = frozenset({"audio/mp4", "audio/m4a", "audio/x-m4a", "audio/aac"})


def sniff(data: bytes) -> str | None:  # noqa: PLR0911 - one return per signature
    """The type the bytes' signature names, or None when none is recognised."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head[4:8] == b"ftyp":
        brand = head[8:11]
        return "video/3gpp" if brand == b"3gp" else "video/mp4"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/x-ole-storage"  # legacy .doc / .xls
    if head.startswith((b"MZ", b"\x7fELF", b"#!")):
        return OCTET_STREAM  # executables: never served as what they claim
    return None


def content_type(data: bytes, declared: str | None) -> str:
    """What the file is served as: the declared type where the signature agrees (or says nothing and
    the declared type is one served as bytes), else the signature's, else ``application/octet-stream``."""
    claimed = _clean(declared)
    found = sniff(data)
    if found is None:  # only a type served as bytes, never e.g. text/html on a sender's word
        return claimed if claimed in BINARY_MEDIA_TYPES else OCTET_STREAM
    if claimed is None:
        return found
    if found == claimed or _compatible(found, claimed):
        return claimed
    return found


def _compatible(found: str, claimed: str) -> bool:
    if found == "application/zip":
        return claimed in _ZIP_BASED
    if found == "application/x-ole-storage":
        return claimed in {"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"}
    if found == "video/mp4":
        return claimed in _MP4_AUDIO or claimed in {"video/3gpp", "video/quicktime"}
    if found == "audio/ogg":
        return claimed in {"audio/ogg; codecs=opus", "audio/opus", "video/ogg", "application/ogg"}
    return False


def _clean(declared: str | None) -> str | None:
    """``audio/ogg; codecs=opus`` → ``audio/ogg``; anything malformed → None."""
    if not declared:
        return None
    base = declared.split(";", 1)[0].strip().lower()
    return base if _MIMETYPE.fullmatch(base) else None
