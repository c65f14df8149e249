"""A fake Slack Web API over real HTTP on 127.0.0.1, for tests and demos.

It records every call (method, parameters, token) and answers like Slack for the
methods incidentio uses. A test can make it slow (``delay``), or queue failures
for a method: ``fail("chat.postMessage", status=429, headers={"Retry-After": "2"})``,
``fail(..., status=503)`` or ``fail(..., error="channel_not_found")``;
``fail(..., status=503, accepted=True)`` does the work and then answers 503 (a
lost answer: the post is in the channel all the same); ``drop=True`` hangs up
without any answer, as a timeout looks to the client.
``response_url``s handed to the app point at ``/respond/<n>`` on the same server.

Every call is also a payload to check: ``leaks()`` lists the Slack markup
incidentio never writes itself (``NEVER_SENT``) found in any of them, and the
``fake_slack`` fixture fails a test that sent some (user text went out
unescaped; docs/slack.md "Escaping").

Posted messages are kept per channel (``messages``) with their metadata, and
``conversations.history`` answers from them. A post is kept, and its answer
decided, the moment the request arrives, before any ``delay``: a client that
dies while waiting for the answer has still posted, as with Slack.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

#: Markup incidentio never writes itself: special mentions (``<!channel>``,
#: ``<!here>``, ``<!everyone>``, ``<!subteam^…>``). Our own mentions and links
#: (``<@U…>``, ``<https://…>``) are deliberate, so only a test that knows which
#: ones it put in user text can forbid those (``markup_in(…, forbidden=…)``).
NEVER_SENT = ("<!",)


def markup_in(payload, forbidden=NEVER_SENT) -> list[str]:
    """The ``forbidden`` markup found anywhere in ``payload`` (a string, or
    parameters with text and blocks, serialized as they travel)."""
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return [form for form in forbidden if form in text]


@dataclass
class Call:
    method: str
    params: dict
    token: str
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    status: int = 200
    error: str | None = None
    headers: dict = field(default_factory=dict)
    #: Slack did the work (a post is in the channel) but the answer is this failure.
    accepted: bool = False
    #: No answer at all: the connection is closed (as a timeout looks to the client).
    drop: bool = False


class FakeSlack:
    def __init__(self):
        self.calls: list[Call] = []
        self.failures: dict[str, list[Failure]] = {}
        self.delay = 0.0
        self.users: dict[str, str] = {}  # Slack user id → e-mail
        self.messages: dict[str, list[dict]] = {}  # channel id → messages posted, oldest first
        self.team_id = "T0001"
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._channels = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.failures.clear()
            self.users.clear()
            self.messages.clear()
            self.delay = 0.0

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.base + "/api/"

    def response_url(self, n: int | str = 1) -> str:
        return f"{self.base}/respond/{n}"

    # --- scripting ---------------------------------------------------------------------

    def fail(self, method: str, *, status: int = 200, error: str | None = None, headers: dict | None = None,
             times: int = 1, accepted: bool = False, drop: bool = False):
        with self._lock:
            self.failures.setdefault(method, []).extend(
                Failure(status=status, error=error, headers=headers or {}, accepted=accepted, drop=drop)
                for _ in range(times)
            )

    def posts_in(self, channel: str) -> list[dict]:
        """The messages in ``channel``, oldest first, as Slack would keep them."""
        with self._lock:
            return [dict(m) for m in self.messages.get(channel, [])]

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def leaks(self, forbidden=NEVER_SENT) -> list[tuple[str, list[str]]]:
        """(method, markup) for every call whose parameters carry ``forbidden`` markup."""
        with self._lock:
            calls = list(self.calls)
        return [(c.method, found) for c in calls if (found := markup_in(c.params, forbidden))]

    def methods(self) -> list[str]:
        with self._lock:
            return [c.method for c in self.calls]

    # --- answers ---------------------------------------------------------------------------

    def answer(self, method: str, params: dict) -> dict:
        if method == "auth.test":
            return {"ok": True, "team_id": self.team_id, "team": "Acme", "user_id": "UBOT", "bot_id": "BBOT"}
        if method == "conversations.create":
            return {"ok": True, "channel": {"id": f"C{next(self._channels):05d}", "name": params.get("name")}}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(params.get("users", "")).split(",")[0]}}
        if method == "chat.postMessage":
            channel = params.get("channel")
            # Epoch seconds, like Slack's, so ``oldest`` works; the counter keeps them unique.
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            self.messages.setdefault(channel, []).append({
                "type": "message", "ts": ts, "bot_id": "BBOT", "text": params.get("text", ""),
                "blocks": params.get("blocks") or [], "metadata": params.get("metadata"),
            })
            return {"ok": True, "channel": channel, "ts": ts}
        if method == "chat.update":
            for message in self.messages.get(params.get("channel"), []):
                if message["ts"] == params.get("ts"):
                    message.update(text=params.get("text", ""), blocks=params.get("blocks") or [])
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        if method == "conversations.history":
            return self._history(params)
        if method == "chat.getPermalink":
            ts = str(params.get("message_ts", "")).replace(".", "")
            return {"ok": True, "permalink": f"https://acme.slack.com/archives/{params.get('channel')}/p{ts}"}
        if method == "users.info":
            user = params.get("user")
            if user not in self.users:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": user, "profile": {"email": self.users[user]}}}
        if method == "users.lookupByEmail":
            email = str(params.get("email", "")).lower()
            for user, known in self.users.items():
                if known.lower() == email:
                    return {"ok": True, "user": {"id": user, "profile": {"email": known}}}
            return {"ok": False, "error": "users_not_found"}
        if method == "oauth.v2.access":
            return {
                "ok": True, "app_id": "A0001", "access_token": "xoxb-from-oauth", "token_type": "bot",
                "scope": "commands,chat:write", "bot_user_id": "UBOT",
                "team": {"id": "T0OAUTH", "name": "OAuth Team"}, "enterprise": None,
                "authed_user": {"id": "UADMIN"},
            }
        return {"ok": True}

    def _history(self, params: dict) -> dict:
        """Newest first, ``oldest``/``latest`` exclusive, ``limit`` per page with a
        cursor; metadata only with ``include_all_metadata``."""
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        found = [m for m in reversed(self.messages.get(params.get("channel"), [])) if oldest < float(m["ts"]) < latest]
        page = found[start:start + limit]
        if not with_metadata:
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(found)
        return {"ok": True, "messages": [dict(m) for m in page], "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(raw).items()}
                url = urlsplit(self.path)
                params = {**{k: v[0] for k, v in parse_qs(url.query).items()}, **params}  # GET methods
                path = url.path
                if path.startswith("/respond/"):
                    method = "response_url"
                else:
                    method = path.removeprefix("/api/")
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                with fake._lock:
                    fake.calls.append(Call(method, params, token))
                    queued = fake.failures.get(method) or []
                    failure = queued.pop(0) if queued else None
                    delay = fake.delay
                    # Decided on arrival: a post is in the channel even if its answer never gets back.
                    accepted = failure is None or failure.accepted
                    answer = fake.answer(method, params) if accepted and method != "response_url" else None
                if delay:
                    time.sleep(delay)
                if failure is not None and failure.drop:
                    self.close_connection = True  # hang up without an answer
                    return
                if failure is not None:
                    body = {"ok": False, "error": failure.error or ("ratelimited" if failure.status == 429 else "fatal_error")}
                    self._send(failure.status, body, failure.headers)
                    return
                self._send(200, answer, {})

            def _send(self, status, body, headers):
                payload = b"ok" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if body is None else "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

        return Handler
