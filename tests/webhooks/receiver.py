"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 (random
port) in a thread, verifying each request as docs/webhooks.md tells receivers to."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from webhooks import signing


class Receiver:
    """A webhook receiver on 127.0.0.1 that verifies and records what it gets.

    ``fail_first``: answer the first N requests with ``fail_status``. Requests
    whose signature does not verify are recorded with ``verified=False`` and
    answered 401, as a real receiver would.
    """

    def __init__(self):
        self.secret: str | None = None
        self.fail_first = 0
        self.fail_status = 500
        self.delay = 0.0
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload = signing.verify(secret=receiver.secret, headers=headers, body=body)
                    verified = True
                except (signing.WebhookVerificationError, ValueError, TypeError, AttributeError):
                    payload, verified = None, False
                time.sleep(receiver.delay)
                with receiver._lock:
                    receiver.requests.append(
                        {"headers": headers, "body": body, "payload": payload, "verified": verified}
                    )
                    failing = len(receiver.requests) <= receiver.fail_first
                status = 401 if not verified else receiver.fail_status if failing else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks"

    @property
    def types(self) -> list[str]:
        return [r["payload"]["type"] for r in self.requests if r["payload"]]

    def payloads(self, event_type: str | None = None) -> list[dict]:
        return [r["payload"] for r in self.requests if r["payload"] and event_type in (None, r["payload"]["type"])]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
