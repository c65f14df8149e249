"""Settings → Slack for an org admin (docs/dashboard.md, "Slack settings"): "Add to
Slack" first when the server has a Slack app, the manual path behind a
disclosure, and every URL built from SITE_URL."""

from __future__ import annotations

import html
import re

import pytest

from slackbot.models import SlackWorkspace

pytestmark = pytest.mark.django_db

SITE = "https://incidents.example.org"


@pytest.fixture
def site(settings):
    settings.SITE_URL = SITE
    settings.ALLOWED_HOSTS = ["incidents.example.org", "testserver"]


def _page(client) -> str:
    response = client.get("/acme/settings/slack/", secure=True, headers={"host": "incidents.example.org"})
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def test_with_a_slack_app_add_to_slack_comes_first_and_the_manual_path_is_folded(
    site, settings, acme, admin, signed_in
):
    settings.SLACK_CLIENT_ID, settings.SLACK_CLIENT_SECRET = "1234.5678", "client-secret"
    page = _page(signed_in(admin, acme))

    add = page.index('<a class="button add-to-slack" href="/slack/install?org=acme">Add to Slack</a>')
    manual = page.index('<details class="disclosure" data-testid="slack-manual">')  # not open
    assert add < manual
    assert "python manage.py" not in page and "SLACK_CLIENT_ID" not in page


def test_without_a_slack_app_the_manual_path_is_open_and_there_is_no_button(site, settings, acme, admin, signed_in):
    settings.SLACK_CLIENT_ID = settings.SLACK_CLIENT_SECRET = ""
    page = _page(signed_in(admin, acme))

    assert 'data-testid="slack-manual" open>' in page
    assert "add-to-slack" not in page
    assert "ask whoever runs incidentio to register one" in page


def test_every_url_shown_is_built_from_site_url(site, acme, admin, signed_in):
    page = _page(signed_in(admin, acme))

    assert f'data-testid="slack-request-url">{SITE}/slack/events</code>' in page
    assert f'data-testid="slack-redirect-url">{SITE}/slack/oauth_redirect</code>' in page
    manifest = html.unescape(re.search(r'data-testid="slack-manifest">(.*?)</pre>', page).group(1))
    # Both slash commands, events, interactivity and the OAuth redirect: five URLs, all here.
    assert manifest.count(SITE) == 5 and manifest.count(f"url: {SITE}/slack/events") == 4
    assert f"- {SITE}/slack/oauth_redirect" in manifest
    assert "example.com" not in manifest and ":8000" not in page
    assert 'data-testid="site-url-warning"' not in page  # opened at SITE_URL


def test_opened_elsewhere_than_site_url_the_page_says_so(settings, acme, admin, signed_in):
    settings.SITE_URL = "http://127.0.0.1:8000"  # the default, while the app is served elsewhere
    page = re.sub(r"\s+", " ", signed_in(admin, acme).get("/acme/settings/slack/").content.decode())

    warning = re.search(r'data-testid="site-url-warning">(.*?)</p>', page).group(1)
    assert "<code>http://127.0.0.1:8000</code>" in warning and "<code>http://testserver</code>" in warning


def test_a_pasted_bot_token_connects_the_workspace_slack_names(fake_slack, acme, admin, signed_in):
    client = signed_in(admin, acme)

    response = client.post("/acme/settings/slack/", {"action": "connect_token", "bot_token": " xoxb-pasted "})

    assert response.status_code == 302 and response["Location"] == "/acme/settings/slack/"
    workspace = SlackWorkspace.objects.get(org=acme)
    assert (workspace.team_id, workspace.team_name, workspace.bot_user_id) == (fake_slack.team_id, "Acme", "UBOT")
    assert workspace.bot_token == "xoxb-pasted" and workspace.installed_by == admin
    assert fake_slack.calls_to("auth.test")
    assert "Connected to Acme." in client.get("/acme/settings/slack/").content.decode()


@pytest.mark.parametrize(
    ("token", "slack_error", "says"),
    [
        ("", None, "Paste the bot token, xoxb-…"),
        ("xoxp-a-user-token", None, "A bot token starts with xoxb-."),
        ("xoxb-revoked", "invalid_auth", "Slack did not accept this token (Slack refused: invalid_auth)."),
    ],
)
def test_a_bad_bot_token_is_refused_at_its_field_and_connects_nothing(
    fake_slack, acme, admin, signed_in, token, slack_error, says
):
    if slack_error:
        fake_slack.fail("auth.test", error=slack_error)
    client = signed_in(admin, acme)

    response = client.post("/acme/settings/slack/", {"action": "connect_token", "bot_token": token})

    assert response.status_code == 400
    page = re.sub(r"\s+", " ", response.content.decode())
    field = re.search(r'<div class="field has-error"><label for="id_bot_token">.*?</div>', page).group(0)
    assert says in html.unescape(field)
    assert 'data-testid="slack-manual" open>' in page  # the form stays in view
    assert token not in page.replace("xoxb-…", "") or not token  # the token is never echoed back
    assert not SlackWorkspace.objects.filter(org=acme).exists()


def test_only_admins_connect_a_token(fake_slack, acme, responder, signed_in):
    response = signed_in(responder, acme).post(
        "/acme/settings/slack/", {"action": "connect_token", "bot_token": "xoxb-pasted"}
    )
    assert response.status_code == 403
    assert not SlackWorkspace.objects.filter(org=acme).exists()
