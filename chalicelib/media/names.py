"""Filenames as the service hands them out: no path, no control or quoting characters, bounded."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_CHARS = 120
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "video/mp4": ".mp4",
    "video/3gpp": ".3gp",
    "application/zip": ".zip",
}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;%]+')


def safe_filename(name: str | None) -> str | None:
    """``name`` fit for a ``Content-Disposition`` header and any file system, or None when nothing
    usable is left (path parts, control characters, quotes, leading dots and spaces removed)."""
    if not name:
        return None
    text = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    text = _UNSAFE.sub("_", text).strip(" ._")
    if not text or set(text) <= {"_"}:
        return None
    if len(text) > MAX_NAME_CHARS:
        stem, dot, ext = text.rpartition(".")
        keep = ext if dot and 0 < len(ext) <= 10 else ""
        text = text[: MAX_NAME_CHARS - len(keep) - 1].rstrip(" .") + ("." + keep if keep else "")
    return text


def download_name(filename: str | None, content_type: str, fallback: str) -> str:
    """The name a download is saved under: the safe ``filename``, else ``fallback`` with the
    extension of ``content_type``."""
    return filename or fallback + _EXTENSIONS.get(content_type, ".bin")


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266 / 5987)."""
    from urllib.parse import quote  # noqa: PLC0415

    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
