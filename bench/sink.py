"""A loopback event sink for the bench: answers 204 at once and prints, per event, the WhatsApp
message id in its data and the arrival time (``<message_id> <epoch seconds>``), one line each.

Run as ``python -m bench.sink``: the first line of stdout is its port. Its own process, so its
threads do not compete with the measured service for the GIL.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver behind a load balancer

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        arrived = time.time()
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        try:
            data = json.loads(body).get("data", {})
            sys.stdout.write(f"{data.get('message_id') or data.get('n') or '-'} {arrived:.6f}\n")
            sys.stdout.flush()
        except ValueError:
            pass

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
