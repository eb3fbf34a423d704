"""Transport-neutral request and response records passed between the HTTP layer and the handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UploadedFile:
    """A multipart part named ``file`` (multer's ``req.file``)."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request; ``path`` has no query string, ``params`` are decoded path params."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    params: dict[str, str] = field(default_factory=dict)
    file: UploadedFile | None = None

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        return self.headers.get(name.lower())


@dataclass
class Response:
    """What to answer: a JSON body (``raw`` for anything else), or ``drop`` to close the socket."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json; charset=utf-8"
    drop: bool = False

    def encoded(self) -> bytes:
        """The body bytes as Express would write them (compact JSON, UTF-8)."""
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()


class EvolutionHTTPError(Exception):
    """Raised by handlers to answer with an Evolution error; ``body`` is the whole JSON body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
