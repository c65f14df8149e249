"""HTTP entry points of the Slack app (``/slack/…``). Thin: Bolt does the work."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from slack_bolt.adapter.django import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from slackbot.app import get_app

logger = logging.getLogger("incidentio.slack")

_handlers: dict[int, SlackRequestHandler] = {}


def _unroutable_event(request) -> bool:
    """A signed ``event_callback`` whose ``event`` is not an object with a string
    ``type``. Bolt's authorization middleware reads ``event["type"]`` before any
    middleware of ours runs (``slackbot.app.PayloadShape`` handles the payloads
    it can reach), so such a body would be a 500; Slack never sends one."""
    if request.content_type != "application/json":
        return False
    try:
        body = json.loads(request.body)
    except ValueError:
        return False
    if not isinstance(body, dict) or body.get("type") != "event_callback":
        return False
    event = body.get("event")
    if isinstance(event, dict) and isinstance(event.get("type"), str):
        return False
    # Unsigned, it is Bolt's to refuse (401), as any other unsigned request.
    return SignatureVerifier(settings.SLACK_SIGNING_SECRET).is_valid_request(request.body, dict(request.headers))


@csrf_exempt
@require_POST
def events(request):
    """Slash commands, interactivity and events, all on one URL."""
    if not settings.SLACK_SIGNING_SECRET:
        # Never verify against an empty secret: anyone could sign with it.
        return HttpResponse("Slack is not configured here.", status=401, content_type="text/plain")
    if _unroutable_event(request):
        logger.info("Ignored an event_callback whose event Bolt cannot route")
        return HttpResponse(status=200)
    app = get_app()
    handler = _handlers.get(id(app))
    if handler is None:
        handler = _handlers[id(app)] = SlackRequestHandler(app)
    return handler.handle(request)
