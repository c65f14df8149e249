"""Add to Slack: /slack/install → Slack → /slack/oauth_redirect binds the workspace to the org that started it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from slackbot.models import SlackWorkspace
from tests.stored import stored_value

pytestmark = pytest.mark.django_db


@pytest.fixture
def oauth(settings, fake_slack):
    settings.SLACK_CLIENT_ID = "1234.5678"
    settings.SLACK_CLIENT_SECRET = "client-secret"
    return fake_slack


def test_install_binds_the_workspace_to_the_org_that_started_it(oauth, acme, admin, signed_in):
    client = signed_in(admin, acme)
    page = client.get("/acme/settings/slack/")
    assert b"Add to Slack" in page.content and b"/slack/install?org=acme" in page.content

    start = client.get("/slack/install?org=acme")
    assert start.status_code == 302
    location = urlsplit(start["Location"])
    query = parse_qs(location.query)
    assert location.netloc == "slack.com" and query["client_id"] == ["1234.5678"]
    assert "commands" in query["scope"][0]
    state = query["state"][0]

    done = client.get(f"/slack/oauth_redirect?code=the-code&state={state}")
    assert done.status_code == 302 and done["Location"].startswith("/acme/settings/slack/")
    workspace = SlackWorkspace.objects.get(org=acme)
    assert (workspace.team_id, workspace.bot_token, workspace.installed_by) == ("T0OAUTH", "xoxb-from-oauth", admin)
    assert oauth.calls_to("oauth.v2.access")[0].params["code"] == "the-code"
    # The bot token is encrypted at rest and never shown: nothing but the Slack client needs it.
    assert "xoxb-from-oauth" not in stored_value(workspace, "bot_token")
    settings_page = client.get("/acme/settings/slack/").content.decode()
    assert "T0OAUTH" in settings_page and "xoxb-from-oauth" not in settings_page

    # The state is single-use.
    again = client.get(f"/slack/oauth_redirect?code=the-code&state={state}")
    assert again.status_code in (400, 401)


def test_only_an_admin_of_the_org_can_start_an_install(oauth, acme, responder, signed_in, client):
    assert signed_in(responder, acme).get("/slack/install?org=acme").status_code == 403
    assert client.get("/slack/install?org=acme").status_code == 403
    assert client.get("/slack/install?org=nope").status_code == 400


def test_a_forged_state_binds_nothing(oauth, acme, admin, signed_in):
    client = signed_in(admin, acme)
    response = client.get("/slack/oauth_redirect?code=x&state=forged")
    assert response.status_code in (400, 401)
    assert not SlackWorkspace.objects.exists()
