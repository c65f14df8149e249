"""Slack account links are no sign-in: an org that requires single sign-on
keeps its linked Slack users acting as themselves, and a member signed in
through SSO links a new one as before."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from incidentio.incidents.models import EventKind, TimelineEvent
from orgs import sessions
from slackbot.models import SlackUserLink
from tests.slack.conftest import RESPONDER, reply
from tests.sso.signin_support import hold, sso_on

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^/\s]+(/acme/preferences/slack-link/[^/\s>|]+/)")


def test_slack_links_work_when_the_org_requires_sso(slack, linked, acme, owner, declare, settings):
    settings.SITE_URL = "https://incidents.example.com"
    sso_on(acme, enforced=True)
    incident = declare(acme, owner)

    # An existing link: the linked responder's command acts as them.
    answer = reply(slack.command("update all good", user=RESPONDER, channel=incident.slack_channel_id))
    assert "Update posted" in answer["text"]
    assert TimelineEvent.objects.filter(kind=EventKind.UPDATE_POSTED, actor_user=linked[RESPONDER]).count() == 1

    # A new link, confirmed by a member signed in through SSO.
    slack.fake.users["UDANA"] = "dana@personal.test"
    text = reply(slack.command("status", user="UDANA", channel=incident.slack_channel_id))["text"]
    path = LINK.search(text)[1]
    browser = hold(Client(), owner, acme, via=sessions.VIA_SSO)
    assert browser.post(path).status_code == 302
    assert SlackUserLink.objects.get(org=acme, slack_user_id="UDANA").user == owner
