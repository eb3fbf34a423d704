"""A loopback Evolution API stub: ``POST /message/sendText/<instance>`` answers 201 with a message object;
``POST /chat/getBase64FromMediaMessage/<instance>`` answers 201 with a PDF in Evolution 2.3.7's shape,
of 10 MB, or N bytes for an instance named ``bytes-N`` (each size built once).

Run as ``python -m bench.stub``: it prints its port on the first line of stdout and serves until killed.
It runs in its own process so its threads do not compete with the measured client for the GIL.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ids = itertools.count(0x1000_0000_0000)
_media: dict[int, bytes] = {}


def media_answer(size: int) -> bytes:
    """getBase64FromMediaMessage's 201 body for a ``size``-byte PDF (deterministic bytes)."""
    if size not in _media:
        import base64  # noqa: PLC0415
        import random  # noqa: PLC0415

        data = b"%PDF-1.7\n" + random.Random(size).randbytes(max(0, size - 9))  # noqa: S311
        answer = {
            "mediaType": "documentMessage",
            "fileName": "bench.pdf",
            "caption": None,
            "size": {"fileLength": str(len(data)), "height": None, "width": None},
            "mimetype": "application/pdf",
            "base64": base64.b64encode(data).decode(),
            "buffer": None,
        }
        _media[size] = json.dumps(answer, separators=(",", ":")).encode()
    return _media[size]


def sent_message(number: str, text: str) -> dict[str, Any]:
    """What Evolution 2.3 answers to a sendText: the key, PENDING, the message, its timestamp."""
    return {
        "key": {"remoteJid": f"{number}@s.whatsapp.net", "fromMe": True, "id": f"3EB0{next(_ids):016X}"},
        "status": "PENDING",
        "message": {"conversation": text},
        "messageType": "conversation",
        "messageTimestamp": int(time.time()),
    }


class EvolutionStub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: both clients reuse their connections
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024  # headers and body leave in one write, flushed after each request

    def do_POST(self) -> None:  # noqa: N802 - the http.server naming
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if self.path.startswith("/chat/getBase64FromMediaMessage/"):
            instance = self.path.rsplit("/", 1)[-1]
            size = int(instance[6:]) if instance.startswith("bytes-") and instance[6:].isdigit() else 10 << 20
            self._raw(201, media_answer(size))
            return
        if not self.path.startswith("/message/sendText/"):
            self._answer(404, {"status": 404, "error": "Not Found", "response": {"message": [self.path]}})
            return
        self._answer(201, sent_message(str(request.get("number", "")), str(request.get("text", ""))))

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        self._raw(status, json.dumps(body).encode())

    def _raw(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server signature
        return


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EvolutionStub)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
    sys.exit(0)
