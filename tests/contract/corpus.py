"""The differential corpus: load it, send it to one Evolution server, and mask what may differ.

A corpus entry (``corpus.json``) is one request: ``id``, ``method``, ``path``, optional ``auth``
(``global`` by default, ``bad``, ``none`` or ``token:<captured name>``), and at most one body:
``json``, ``raw`` (with ``content_type``), ``form`` (urlencoded) or ``multipart`` (``fields`` and
``files``: ``{"part": {"name", "type", "base64"}}``); ``pause`` waits that many seconds first. ``capture`` keeps a value of the answer
(``{"name": [path…]}``) for later entries. ``{never}``-style placeholders are replaced by this run's
instance names, ``{hook}`` by a webhook URL on loopback.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

CORPUS = Path(__file__).with_name("corpus.json")
PLACEHOLDERS = (
    "known",
    "never",
    "connecting",
    "closed",
    "fresh",
    "form",
    "hooked",
    "noevents",
    "unknown",
    "spare",
)
# Values that differ between two runs of the same server: ids, times, tokens, QR payloads.
VOLATILE_KEYS = frozenset(
    {
        "id",
        "instanceId",
        "token",
        "hash",
        "apikey",
        "createdAt",
        "updatedAt",
        "disconnectionAt",
        "date_time",
        "messageTimestamp",
        "code",
        "base64",
        "pairingCode",
        "whatsappWebVersion",
    }
)
READ_TIMEOUT_S = 40.0


@dataclass(frozen=True)
class Answer:
    """What a server answered to one entry: the status and the masked body."""

    status: int
    body: Any
    content_type: str
    seconds: float


@dataclass
class Target:
    """One server under test and the state a run of the corpus builds on it."""

    label: str
    base_url: str
    api_key: str
    names: dict[str, str]
    hook_url: str
    captured: dict[str, str] = field(default_factory=dict)


def load_corpus(path: Path = CORPUS) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["requests"]
    ids = [entry["id"] for entry in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate corpus ids: {duplicates}")
    return entries


def _substitute(value: Any, target: Target) -> Any:
    if isinstance(value, str):
        for placeholder, name in target.names.items():
            value = value.replace("{" + placeholder + "}", name)
        return value.replace("{hook}", target.hook_url)
    if isinstance(value, list):
        return [_substitute(item, target) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, target) for key, item in value.items()}
    return value


def _headers(entry: dict[str, Any], target: Target) -> dict[str, str]:
    auth = entry.get("auth", "global")
    if auth == "none":
        return {}
    if auth == "bad":
        return {"apikey": "not-the-key"}
    if auth.startswith("token:"):
        return {"apikey": target.captured[auth.removeprefix("token:")]}
    return {"apikey": target.api_key}


def _body_kwargs(entry: dict[str, Any], target: Target) -> dict[str, Any]:
    if "json" in entry:
        return {"json": _substitute(entry["json"], target)}
    if "raw" in entry:
        return {"data": entry["raw"].encode(), "headers": {"Content-Type": entry["content_type"]}}
    if "form" in entry:
        return {"data": _substitute(entry["form"], target)}
    if "multipart" in entry:
        spec = entry["multipart"]
        files: dict[str, Any] = {
            name: (None, str(value)) for name, value in _substitute(spec.get("fields", {}), target).items()
        }
        for part, file in spec.get("files", {}).items():
            files[part] = (file["name"], base64.b64decode(file["base64"]), file["type"])
        return {"files": files}
    return {}


def _dig(body: Any, path: list[Any]) -> Any:
    for step in path:
        body = body[step]
    return body


def send(session: requests.Session, entry: dict[str, Any], target: Target) -> Answer:
    """Send one entry to ``target`` (after its ``pause``, for what settles asynchronously)."""
    if entry.get("pause"):
        time.sleep(float(entry["pause"]))
    kwargs = _body_kwargs(entry, target)
    headers = {**_headers(entry, target), **kwargs.pop("headers", {})}
    response = session.request(
        entry["method"],
        target.base_url + _substitute(entry["path"], target),
        headers=headers,
        timeout=(3.0, READ_TIMEOUT_S),
        **kwargs,
    )
    content_type = response.headers.get("Content-Type", "").split(";")[0]
    try:
        body: Any = response.json()
    except ValueError:
        body = {"<not JSON>": content_type, "text": response.text[:200]}
    for name, path in entry.get("capture", {}).items():
        target.captured[name] = str(_dig(body, path))
    return Answer(response.status_code, mask(body, target), content_type, response.elapsed.total_seconds())


def run(session: requests.Session, entries: list[dict[str, Any]], target: Target) -> Iterator[Answer]:
    for entry in entries:
        yield send(session, entry, target)


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def mask(body: Any, target: Target, key: str | None = None) -> Any:
    """The body with volatile values replaced by ``<key>`` and instance names by placeholders."""
    if key in VOLATILE_KEYS and body is not None:
        return f"<{key}>"
    if isinstance(body, dict):
        return {k: mask(v, target, k) for k, v in body.items()}
    if isinstance(body, list):
        return [mask(item, target) for item in body]
    if isinstance(body, str):
        for placeholder, name in sorted(target.names.items(), key=lambda kv: -len(kv[1])):
            body = body.replace(name, "{" + placeholder + "}")
        body = body.replace(target.hook_url, "{hook}").replace(target.base_url, "{server}")
        if body.startswith("PrismaClientValidationError"):  # a stack excerpt with the server's paths
            return "PrismaClientValidationError"
        return _UUID.sub("<uuid>", body)
    return body
