"""A loopback Evolution API stub: ``POST /message/sendText/<instance>`` answers 201 with a message object.

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
        if not self.path.startswith("/message/sendText/"):
            self._answer(404, {"status": 404, "error": "Not Found", "response": {"message": [self.path]}})
            return
        self._answer(201, sent_message(str(request.get("number", "")), str(request.get("text", ""))))

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
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
