"""The one Bolt app, served by Django at ``/slack/events`` (``slackbot.views``).

- Bolt verifies every request's signature and timestamp with
  ``SLACK_SIGNING_SECRET`` (a bad one is a 401 and runs nothing).
- ``WorkspaceAuthorize`` finds the bot token from the request's ``team_id``
  in ``SlackWorkspace`` (no Web API call) and puts the workspace in the context.
- ``process_before_response=True``: listeners run in the request thread (so
  Django's connection handling and transactions apply) and the response leaves
  when the listener returns. Listeners only touch the database and queue Celery
  tasks for Web API calls, so the response is well inside Slack's 3 s.
- ``PayloadShape`` answers a signed payload whose shape Bolt's own parsing
  would crash on (a 500): no ``actions`` in a block action, a ``view`` that
  is no object.
- ``once_per_delivery`` drops a request whose exact body was handled before:
  Slack's retries (``X-Slack-Retry-Num``) and the same payload arriving twice
  apply one effect. Double clicks are distinct payloads; the services are
  idempotent for them (completing a completed task changes nothing).
"""

from __future__ import annotations

import hashlib
import logging
import threading

from django.conf import settings
from django.core.cache import cache
from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.middleware import Middleware

from slackbot.client import slack_client
from slackbot.people import workspace_for_team

logger = logging.getLogger("incidentio.slack")

#: How long a handled delivery is remembered (Slack retries within minutes).
DELIVERY_MEMORY_SECONDS = 60 * 60


class WorkspaceAuthorize(Authorize):
    def __call__(self, *, context, enterprise_id, team_id, user_id, **_) -> AuthorizeResult | None:
        workspace = workspace_for_team(team_id)
        if workspace is None:
            return None
        context["workspace"] = workspace
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=workspace.bot_token,
            bot_user_id=workspace.bot_user_id or None,
            bot_id=workspace.bot_id or None,
            user_id=user_id,
        )


def _well_formed(body: dict) -> bool:
    """Whether Bolt can parse ``body`` (``slack_bolt.request.payload_utils`` indexes
    ``actions[0]`` and ``view["type"]`` without checking)."""
    kind = body.get("type")
    if kind == "block_actions":
        actions = body.get("actions")
        return bool(actions) and isinstance(actions, list) and all(
            isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions
        )
    if kind in ("view_submission", "view_closed") and "view" in body:
        view = body["view"]
        return isinstance(view, dict) and isinstance(view.get("callback_id"), str) and "type" in view
    return True


class PayloadShape(Middleware):
    """Runs after the signature check, before anything that parses the payload.

    A class, not a function: Bolt builds a function middleware's arguments from
    the payload (``action=body["actions"][0]``…), which is what would crash.
    """

    def process(self, *, req, resp, next):
        if _well_formed(req.body):
            return next()
        from slackbot.listeners.common import MALFORMED, respond_later

        logger.info("Refused a malformed %s payload", req.body.get("type"))
        respond_later(req.body, MALFORMED)
        return BoltResponse(status=200, body="")


def once_per_delivery(req, resp, next):
    """Global middleware: each distinct request body is handled once."""
    team = req.context.team_id or ""
    key = "slack:delivery:" + hashlib.sha256(f"{team}\n{req.raw_body}".encode()).hexdigest()
    if not cache.add(key, 1, timeout=DELIVERY_MEMORY_SECONDS):
        logger.info("Dropped a repeated Slack delivery (retry %s)", req.headers.get("x-slack-retry-num"))
        return BoltResponse(status=200, body="")
    response = next()
    if response is not None and response.status >= 500:
        cache.delete(key)  # it failed: let Slack's retry try again
    return response


def build_app() -> App:
    from slackbot.listeners import close, commands, declare, reminders, tasks

    app = App(
        name="incidentio",
        signing_secret=settings.SLACK_SIGNING_SECRET,
        client=slack_client(),
        authorize=WorkspaceAuthorize(),
        process_before_response=True,
        token_verification_enabled=False,
        oauth_flow=None,
    )
    app.use(PayloadShape())
    app.use(once_per_delivery)
    for module in (commands, close, tasks, declare, reminders):
        module.register(app)

    @app.event("app_uninstalled")
    def uninstalled(ack, context):
        ack()
        from slackbot.services import slack_workspace_disconnect

        workspace = context.get("workspace")
        if workspace is not None:
            slack_workspace_disconnect(workspace=workspace)

    @app.event("tokens_revoked")
    def tokens_revoked(ack):
        ack()

    return app


_lock = threading.Lock()
_apps: dict[tuple, App] = {}


def get_app() -> App:
    """The app for the current settings (tests change the secret and the API URL)."""
    key = (settings.SLACK_SIGNING_SECRET, settings.SLACK_API_URL)
    with _lock:
        if key not in _apps:
            _apps[key] = build_app()
        return _apps[key]
