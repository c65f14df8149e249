"""Linking a Slack user to a member by hand: the one-time link in the unmapped
user's ephemeral reply, the confirmation page, and unlinking from Preferences."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest
from django.core import signing

from incidentio.incidents.models import EventKind, TimelineEvent
from orgs.models import Membership, Role
from slackbot import blocks as kit
from slackbot.links import LINK_MAX_AGE, SALT, make_link_token
from slackbot.models import SlackUserLink, SlackWorkspace
from tests.factories import UserFactory
from tests.slack.conftest import RESPONDER, TEAM, reply

pytestmark = pytest.mark.django_db

SITE = "https://incidents.example.com"
LINK = re.compile(re.escape(SITE) + r"(/[a-z0-9-]+/preferences/slack-link/[^/\s>|]+/)")
SLACK_ID = "UDANA"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE


def _person(org, role=Role.RESPONDER, email="dana@acme.test"):
    user = UserFactory(email=email)
    Membership.objects.create(org=org, user=user, role=role)
    return user


@pytest.fixture
def dana(acme, slack):
    # In Slack, Dana uses a private address the org doesn't know: e-mail mapping fails.
    slack.fake.users[SLACK_ID] = "dana@personal.test"
    return _person(acme)


def _link_path(text: str) -> str:
    match = LINK.search(text)
    assert match, text
    return match[1]


def _token(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[1]


def test_unmapped_user_gets_a_link_in_the_ephemeral_reply(slack, workspace, dana, acme, declare, owner):
    incident = declare(acme, owner)
    answer = reply(slack.command("update hello", user=SLACK_ID, channel=incident.slack_channel_id))
    assert answer["response_type"] == "ephemeral"
    assert "can't tell which" in answer["text"] and "Nothing was changed" in answer["text"]
    path = _link_path(answer["text"])
    assert path.startswith("/acme/preferences/slack-link/")
    assert signing.loads(_token(path), salt=SALT, max_age=LINK_MAX_AGE) == {"team": TEAM, "slack_user": SLACK_ID}
    assert not TimelineEvent.objects.filter(kind=EventKind.UPDATE_POSTED).exists()
    assert not SlackUserLink.objects.filter(slack_user_id=SLACK_ID).exists()


def test_unmapped_user_pressing_a_button_gets_the_link_too(slack, workspace, dana):
    slack.action(kit.TASK_DONE, value="00000000-0000-0000-0000-000000000000", user=SLACK_ID)
    text = slack.fake.calls_to("response_url")[-1].params["text"]
    assert _token(_link_path(text))


def test_following_the_link_and_confirming_links_the_member(slack, workspace, dana, acme, declare, owner, signed_in):
    incident = declare(acme, owner)
    path = _link_path(reply(slack.command("status", user=SLACK_ID, channel=incident.slack_channel_id))["text"])
    browser = signed_in(dana, acme)

    page = browser.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Link Slack user <code>&lt;@UDANA&gt;</code> in workspace <strong>Acme</strong>" in html
    assert "dana@acme.test" in html and "Confirm" in html
    assert page["Referrer-Policy"] == "no-referrer"
    assert not SlackUserLink.objects.filter(slack_user_id=SLACK_ID).exists()  # GET changes nothing

    response = browser.post(path)
    assert response.status_code == 302 and response["Location"] == "/acme/preferences/"
    assert SlackUserLink.objects.get(org=acme, slack_user_id=SLACK_ID).user == dana

    # The same Slack user's commands now act as Dana.
    answer = reply(slack.command("update all good", user=SLACK_ID, channel=incident.slack_channel_id))
    assert "Update posted" in answer["text"]
    assert TimelineEvent.objects.filter(kind=EventKind.UPDATE_POSTED, actor_user=dana).count() == 1


def test_not_signed_in_goes_to_sign_in_and_back(slack, workspace, dana, client):
    path = "/acme/preferences/slack-link/" + make_link_token(team_id=TEAM, slack_user_id=SLACK_ID) + "/"
    response = client.get(path)
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"
    assert "slack-link" in response["Location"]
    assert not SlackUserLink.objects.filter(slack_user_id=SLACK_ID).exists()


def test_expired_token_is_refused_and_links_nothing(slack, workspace, dana, acme, signed_in, monkeypatch):
    real = time.time
    with monkeypatch.context() as m:
        m.setattr(signing.time, "time", lambda: real() - LINK_MAX_AGE - 60)
        token = make_link_token(team_id=TEAM, slack_user_id=SLACK_ID)
    path = f"/acme/preferences/slack-link/{token}/"
    browser = signed_in(dana, acme)
    for response in (browser.get(path), browser.post(path)):
        assert response.status_code == 400
        assert "expired" in response.content.decode()
    assert not SlackUserLink.objects.filter(slack_user_id=SLACK_ID).exists()


@pytest.mark.parametrize("token", [
    signing.dumps({"team": TEAM, "slack_user": SLACK_ID}, salt="another-salt"),
    signing.dumps({"team": TEAM, "slack_user": SLACK_ID}, salt=SALT, key="not-the-secret-key-0123456789-abcdef"),
    "not-a-token",
])
def test_forged_token_is_refused_and_links_nothing(slack, workspace, dana, acme, signed_in, token):
    path = f"/acme/preferences/slack-link/{token}/"
    browser = signed_in(dana, acme)
    for response in (browser.get(path), browser.post(path)):
        assert response.status_code == 400
        assert "not valid" in response.content.decode()
    assert not SlackUserLink.objects.exists()


def test_tampered_token_is_refused(slack, workspace, dana, acme, signed_in):
    token = make_link_token(team_id=TEAM, slack_user_id=SLACK_ID)
    payload, rest = token.split(":", 1)
    forged = make_link_token(team_id=TEAM, slack_user_id="UOTHER").split(":", 1)[0] + ":" + rest
    response = signed_in(dana, acme).post(f"/acme/preferences/slack-link/{forged}/")
    assert response.status_code == 400
    assert not SlackUserLink.objects.exists()


def test_another_orgs_token_is_404(slack, workspace, dana, acme, globex, outsider, signed_in):
    SlackWorkspace.objects.create(org=globex, team_id="T0002", bot_token="xoxb-globex", team_name="Globex")
    theirs = make_link_token(team_id="T0002", slack_user_id="UGLOBEX")
    browser = signed_in(dana, acme)
    assert browser.get(f"/acme/preferences/slack-link/{theirs}/").status_code == 404
    assert browser.post(f"/acme/preferences/slack-link/{theirs}/").status_code == 404
    # And acme's token used in globex.
    ours = make_link_token(team_id=TEAM, slack_user_id=SLACK_ID)
    assert signed_in(outsider, globex).post(f"/globex/preferences/slack-link/{ours}/").status_code == 404
    # A team no org has connected.
    unknown = make_link_token(team_id="T9999", slack_user_id=SLACK_ID)
    assert browser.post(f"/acme/preferences/slack-link/{unknown}/").status_code == 404
    assert not SlackUserLink.objects.exists()


def test_a_slack_user_linked_to_another_member_is_not_taken_over(slack, linked, dana, acme, responder, signed_in):
    path = "/acme/preferences/slack-link/" + make_link_token(team_id=TEAM, slack_user_id=RESPONDER) + "/"
    response = signed_in(dana, acme).post(path)
    assert response.status_code == 409
    assert "already linked to another member" in response.content.decode()
    assert SlackUserLink.objects.get(org=acme, slack_user_id=RESPONDER).user == responder
    assert not SlackUserLink.objects.filter(org=acme, user=dana).exists()


def test_confirming_twice_is_harmless_and_relinking_replaces(slack, workspace, dana, acme, signed_in):
    browser = signed_in(dana, acme)
    first = "/acme/preferences/slack-link/" + make_link_token(team_id=TEAM, slack_user_id=SLACK_ID) + "/"
    assert browser.post(first).status_code == 302
    assert browser.post(first).status_code == 302
    second = "/acme/preferences/slack-link/" + make_link_token(team_id=TEAM, slack_user_id="UDANA2") + "/"
    assert "replaces your current link" in browser.get(second).content.decode()
    assert browser.post(second).status_code == 302
    assert list(SlackUserLink.objects.filter(org=acme, user=dana).values_list("slack_user_id", flat=True)) == ["UDANA2"]


def test_preferences_shows_the_link_and_unlink_works(slack, workspace, dana, acme, signed_in):
    SlackUserLink.objects.create(org=acme, user=dana, slack_user_id=SLACK_ID)
    browser = signed_in(dana, acme)
    html = browser.get("/acme/preferences/").content.decode()
    assert SLACK_ID in html and "Acme" in html and "Unlink" in html

    response = browser.post("/acme/preferences/", {"action": "slack_unlink"})
    assert response.status_code == 302
    assert not SlackUserLink.objects.filter(org=acme, user=dana).exists()
    assert "No Slack account linked" in browser.get("/acme/preferences/").content.decode()


def test_unlink_touches_only_your_own_link(slack, linked, dana, acme, signed_in):
    browser = signed_in(dana, acme)
    browser.post("/acme/preferences/", {"action": "slack_unlink", "slack_user_id": RESPONDER})
    assert SlackUserLink.objects.filter(org=acme, slack_user_id=RESPONDER).exists()


def test_a_viewer_can_link_themselves_but_still_may_not_write(slack, workspace, acme, declare, owner, signed_in):
    viewer = _person(acme, Role.VIEWER, "vera@acme.test")
    slack.fake.users["UVERA"] = "vera@personal.test"
    incident = declare(acme, owner)
    path = _link_path(reply(slack.command("update hi", user="UVERA", channel=incident.slack_channel_id))["text"])
    assert signed_in(viewer, acme).post(path).status_code == 302
    assert SlackUserLink.objects.get(org=acme, slack_user_id="UVERA").user == viewer

    answer = reply(slack.command("update hi", user="UVERA", channel=incident.slack_channel_id))
    assert "not allowed" in answer["text"]
    assert not TimelineEvent.objects.filter(kind=EventKind.UPDATE_POSTED).exists()
    # Reading works as them.
    assert incident.reference in reply(slack.command("status", user="UVERA", channel=incident.slack_channel_id))["text"]


def test_a_link_left_by_someone_who_left_the_org_is_freed(slack, workspace, dana, acme, signed_in):
    gone = UserFactory(email="gone@acme.test")  # not a member any more
    SlackUserLink.objects.create(org=acme, user=gone, slack_user_id=SLACK_ID)
    path = "/acme/preferences/slack-link/" + make_link_token(team_id=TEAM, slack_user_id=SLACK_ID) + "/"
    assert signed_in(dana, acme).post(path).status_code == 302
    assert SlackUserLink.objects.get(org=acme, slack_user_id=SLACK_ID).user == dana
