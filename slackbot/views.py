"""HTTP entry points of the Slack app (``/slack/…``). Thin: Bolt does the work."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from slack_bolt.adapter.django import SlackRequestHandler

from slackbot.app import get_app

_handlers: dict[int, SlackRequestHandler] = {}


@csrf_exempt
@require_POST
def events(request):
    """Slash commands, interactivity and events, all on one URL."""
    if not settings.SLACK_SIGNING_SECRET:
        # Never verify against an empty secret: anyone could sign with it.
        return HttpResponse("Slack is not configured here.", status=401, content_type="text/plain")
    app = get_app()
    handler = _handlers.get(id(app))
    if handler is None:
        handler = _handlers[id(app)] = SlackRequestHandler(app)
    return handler.handle(request)
