"""Bind a Slack workspace to an org with a bot token, without OAuth (self-hosters).

    python manage.py slack_connect --org acme --team-id T0123 --bot-token xoxb-…

With ``--check`` the token is verified first with ``auth.test`` (which also
fills in the bot user id and the team name).
"""

from django.core.management.base import BaseCommand, CommandError

from incidentio.common.errors import ServiceError
from orgs.models import Organization
from slackbot.client import slack_client
from slackbot.errors import SlackError, call_slack
from slackbot.services import slack_workspace_connect


class Command(BaseCommand):
    help = "Connect a Slack workspace to an organization with a bot token (no OAuth)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="the organization's slug")
        parser.add_argument("--team-id", required=True, help="the workspace id, T…")
        parser.add_argument("--bot-token", required=True, help="the bot token, xoxb-…")
        parser.add_argument("--bot-user-id", default="", help="the bot's user id, U… (found by --check)")
        parser.add_argument("--check", action="store_true", help="verify the token with auth.test first")

    def handle(self, *args, org, team_id, bot_token, bot_user_id, check, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization {org!r}.")
        team_name, bot_id = "", ""
        if check:
            try:
                info = call_slack(slack_client(bot_token).auth_test)
            except SlackError as exc:
                raise CommandError(f"Slack refused the token: {exc}") from exc
            if info.get("team_id") != team_id:
                raise CommandError(f"The token belongs to {info.get('team_id')}, not {team_id}.")
            bot_user_id = bot_user_id or info.get("user_id", "")
            bot_id = info.get("bot_id", "") or ""
            team_name = info.get("team", "") or ""
        try:
            workspace = slack_workspace_connect(
                org=organization, team_id=team_id, bot_token=bot_token, bot_user_id=bot_user_id,
                bot_id=bot_id, team_name=team_name,
            )
        except ServiceError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"Connected Slack workspace {workspace.team_id} to {organization.slug}."))
