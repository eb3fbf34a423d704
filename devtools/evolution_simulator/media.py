"""Media download as Evolution does it before a send: real for loopback and IP hosts, assumed otherwise.

The simulator has no network, so a URL on a named host is taken as downloadable (documented in the
README); a URL on ``localhost`` or an IP literal is really fetched, and a failure gives the message
Node's axios would (``connect ECONNREFUSED 127.0.0.1:9``, ``Request failed with status code 404``).
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

FETCH_TIMEOUT_S = 10.0
MAX_MEDIA_BYTES = 100 * 1024 * 1024


def _fetched_locally(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def download_error(url: str) -> str | None:
    """``None`` when the media can be downloaded, else the error message Evolution reports."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    if not _fetched_locally(parts.hostname) or parts.scheme not in {"http", "https"}:
        return None
    host = "127.0.0.1" if parts.hostname == "localhost" else str(parts.hostname)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as answer:  # noqa: S310 - http(s) only
            answer.read(MAX_MEDIA_BYTES)
    except urllib.error.HTTPError as exc:
        return f"Request failed with status code {exc.code}"
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionRefusedError):
            return f"connect ECONNREFUSED {host}:{port}"
        if isinstance(exc.reason, socket.timeout | TimeoutError):
            return f"timeout of {int(FETCH_TIMEOUT_S * 1000)}ms exceeded"
        return str(exc.reason)
    except (TimeoutError, OSError) as exc:
        return str(exc)
    return None
