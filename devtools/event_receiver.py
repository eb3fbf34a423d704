"""A tiny receiver of the service's events: verifies each Standard Webhooks signature, prints the
event, answers 204 (401 for a bad signature). For the README's walk-through and manual checks.

    python -m devtools.event_receiver --port 9000 --secret whsec_...

Listens on 127.0.0.1 only. ``--fail-rate`` (0-1) answers 500 to that share of requests, to watch
the retries.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

MAX_BODY = 1024 * 1024


def make_handler(secret: str, fail_rate: float) -> type[BaseHTTPRequestHandler]:
    verifier = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(413)
                return
            body = self.rfile.read(length)
            if random.random() < fail_rate:  # noqa: S311 - a test knob, not a secret
                print(f"answering 500 to {self.headers.get('webhook-id')} (--fail-rate)", flush=True)
                self._answer(500)
                return
            try:
                event = verifier.verify(body, dict(self.headers.items()))
            except WebhookVerificationError as e:
                print(f"REFUSED (bad signature: {e})", flush=True)
                self._answer(401)
                return
            print(f"verified {event['type']} {event['id']}", flush=True)
            print(json.dumps(event, indent=2, ensure_ascii=False), flush=True)
            self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
            """Quiet: the events themselves are printed."""

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument(
        "--secret", default=os.environ.get("EVENTS_SECRET"), help="whsec_… (or EVENTS_SECRET)"
    )
    parser.add_argument("--fail-rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    if not args.secret or not args.secret.startswith("whsec_"):
        sys.exit("give the destination's secret: --secret whsec_… (shown when it was created)")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.secret, args.fail_rate))
    print(f"receiving events on http://127.0.0.1:{args.port}/events (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
