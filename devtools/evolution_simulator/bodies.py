"""Request bodies as Express + body-parser + multer read them: JSON, urlencoded, multipart."""

from __future__ import annotations

import json
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from devtools.evolution_simulator.http_types import Response, UploadedFile


def _json_error(text: str, exc: json.JSONDecodeError) -> Response:
    """V8's ``JSON.parse`` messages (Node 20), as Evolution's error handler passes them on."""
    if exc.pos >= len(text.rstrip()):
        message = "Unexpected end of JSON input"
    else:
        message = f"Unexpected token '{text[exc.pos]}', \"{text}\" is not valid JSON"
    body = {"status": 400, "error": "Internal Server Error", "response": {"message": message}}
    return Response(400, body)


def _multipart(raw: bytes, content_type: str) -> tuple[dict[str, Any], UploadedFile | None]:
    """multer: text parts become fields, the part named ``file`` the uploaded file."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message: Message = BytesParser(policy=HTTP).parsebytes(head + raw)
    fields: dict[str, Any] = {}
    upload: UploadedFile | None = None
    if not message.is_multipart():
        return fields, None
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            if name == "file" and upload is None:
                upload = UploadedFile(filename, part.get_content_type(), payload)
            continue
        fields[name] = payload.decode("utf-8", errors="replace")
    return fields, upload


def parse_body(raw: bytes, content_type: str) -> tuple[Any, UploadedFile | None, Response | None]:
    """``(body, file, error)``: unknown content types give ``{}`` as body-parser does."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if not raw:
        return {}, None, None
    if "json" in kind:
        text = raw.decode("utf-8", errors="replace")
        try:
            return json.loads(text), None, None
        except json.JSONDecodeError as exc:
            return {}, None, _json_error(text, exc)
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True)), None, None
    if kind == "multipart/form-data":
        fields, upload = _multipart(raw, content_type)
        return fields, upload, None
    return {}, None, None
