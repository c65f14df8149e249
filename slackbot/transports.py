"""Where outbox messages go. One transport per destination kind, typed errors
(healthchecks' ``hc/api/transports.py``).

- ``ConsoleTransport``: no workspace connected (the embedded default). Channel
  messages are printed; DMs go by e-mail, as they would to a member without Slack.
- ``SlackTransport``: the org has a ``SlackWorkspace``. ``incident_channel``
  goes to the incident's channel (created on first use); ``dm:<user id>`` to the
  member's Slack DM, or by e-mail when they have no Slack user;
  ``channel:<channel id>`` to a channel an admin chose (the digest's).
- ``email:<address>`` is an e-mail whichever the transport (the digest's
  recipients outside the org): ``send_email``.

Task messages are rendered at delivery time from the database: the one message
of a learning status is posted once (``learning.tasks_posted``) and then edited
in place (``learning.tasks_updated``, queued by ``slackbot.listeners.timeline``
whenever a task changes), so a late or repeated delivery shows the current state.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import smtplib
import string
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage, send_mail
from django.utils import timezone
from django.utils.text import slugify

from incidentio.incidents.models import EventKind, IncidentStatus, LearningFlowState, TimelineEvent
from learning import messages as learning_messages
from learning.models import LearningTask, TaskState
from slackbot import blocks as kit
from slackbot.client import DEFAULT_TIMEOUT, workspace_client
from slackbot.errors import (
    TOKEN_ERRORS,
    SlackApiError,
    SlackError,
    SlackPermanentError,
    SlackRateLimited,
    call_slack,
)
from slackbot.formatting import escape, unescape

logger = logging.getLogger("incidentio.slack")

TASKS_POSTED = learning_messages.TASKS_POSTED
TASK_ASSIGNED = learning_messages.TASK_ASSIGNED
#: Queued by ``slackbot.listeners.timeline`` whenever a learning task changes.
TASKS_UPDATED = "learning.tasks_updated"
#: Message metadata on every post: which outbox message it is, so a post whose
#: outcome was lost can be found in the channel's history.
OUTBOX_EVENT_TYPE = "incidentio_outbox"
#: Slack's clock and ours may differ: search the history from a bit earlier.
HISTORY_MARGIN_SECONDS = 60
#: Pages of 200 messages searched for a lost post before posting anyway.
HISTORY_PAGES = 5
#: After a post that timed out, how long to wait before looking for it.
POST_SETTLE_SECONDS = 30
#: Seconds between two messages posted to one channel (Slack's posting limit).
CHANNEL_SLOT_SECONDS = 1


class TransportError(Exception):
    """Delivery failed. ``permanent`` errors are not retried. ``maybe_posted``: the
    post itself got no proper answer (a timeout, a 5xx), so it may be in Slack anyway."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None,
                 maybe_posted: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.maybe_posted = maybe_posted
        #: Seconds to leave the message alone: a post that timed out may still
        #: be completed by Slack, and looking for it too early would miss it.
        self.settle_seconds = 0.0


class ChannelBusy(TransportError):
    """A message went to this channel less than a second ago: try again shortly."""

    def __init__(self, channel: str):
        super().__init__(f"channel {channel} is busy", retry_after=CHANNEL_SLOT_SECONDS)


@dataclass
class DeliveryAttempt:
    """One worker's go at delivering one outbox message (``slackbot.tasks._claim``)."""

    #: The worker holds the message until then; a post must be over before it.
    lease_expires_at: datetime
    #: An earlier attempt may have posted the message since then, unrecorded
    #: (``OutboxMessage.in_doubt_since``): look in the channel before posting.
    recovering_since: datetime | None = None
    #: The channel's history showed that earlier post never happened.
    doubt_resolved: bool = False

    @property
    def doubt_open(self) -> bool:
        return self.recovering_since is not None and not self.doubt_resolved

    def check_time_left(self, seconds: float) -> None:
        """Refuse to start a call that could outlast the lease: once it runs out,
        another worker may look for this post before it exists, and post again."""
        if (self.lease_expires_at - timezone.now()).total_seconds() < seconds:
            raise TransportError("the delivery took too long; trying again", retry_after=1)


def _user_for_dm(message):
    from orgs.models import Membership

    user_id = message.destination.removeprefix("dm:")
    membership = (
        Membership.objects.select_related("user").filter(org_id=message.org_id, user_id=user_id).first()
        if user_id.isdigit() else None
    )
    return membership.user if membership else None


def _email(user, message) -> None:
    subject = f"[incidentio] {message.incident.reference} {message.incident.name}" if message.incident else "[incidentio]"
    # The text is Slack's (escaped for mrkdwn); an e-mail is plain text, or the
    # message's own plain text when its sender wrote one (``data["email_text"]``).
    send_mail(message.data.get("subject") or subject, message.data.get("email_text") or unescape(message.text),
              None, [user.email])


EMAIL_PREFIX = "email:"
CHANNEL_PREFIX = "channel:"


def send_email(message) -> None:
    """An ``email:<address>`` message: its text is plain text, its subject in
    ``data["subject"]``. The Message-ID is the outbox message's, so a copy sent
    again after a worker died between the SMTP hand-off and recording it is the
    same message to the mail client (which shows it once)."""
    address = message.destination.removeprefix(EMAIL_PREFIX)
    domain = urlsplit(settings.SITE_URL).hostname or "incidentio"
    email = EmailMessage(message.data.get("subject") or "[incidentio]", message.text, None, [address],
                         headers={"Message-ID": f"<outbox-{message.public_id}@{domain}>"})
    try:
        email.send()
    except (OSError, smtplib.SMTPException) as exc:
        permanent = isinstance(exc, smtplib.SMTPRecipientsRefused)
        raise TransportError(f"e-mail to {address}: {exc}", permanent=permanent) from exc


class ConsoleTransport:
    def prepare(self, message) -> None:
        pass

    def send(self, message, attempt: DeliveryAttempt | None = None) -> None:
        incident = message.incident
        if message.destination.startswith(EMAIL_PREFIX):
            return send_email(message)
        if message.destination.startswith("dm:"):
            user = _user_for_dm(message)
            if user is not None:
                _email(user, message)
            return
        if message.kind == TASKS_UPDATED:
            return  # the console has nothing to edit in place
        where = f"#{incident.reference.lower()}" if incident and message.destination == "incident_channel" else message.destination
        logger.info("[slack → %s] %s", where, message.text)


def channel_name(incident) -> str:
    base = f"inc-{incident.number}-{slugify(incident.name)}"
    return re.sub(r"[^a-z0-9_-]", "", base)[:80].rstrip("-")


def _content_hash(text: str, blocks: list) -> str:
    return hashlib.sha256(json.dumps([text, blocks], sort_keys=True).encode()).hexdigest()


def tasks_key(incident_id: int, status_id: int) -> str:
    return f"tasks:{incident_id}:{status_id}"


class SlackTransport:
    def __init__(self, workspace):
        self.workspace = workspace
        self.client = workspace_client(workspace)

    # --- the Web API, with our typed errors --------------------------------------

    def call(self, method: str, **kwargs):
        try:
            return call_slack(getattr(self.client, method), **kwargs)
        except SlackRateLimited as exc:
            raise TransportError(f"{method}: rate limited", retry_after=exc.retry_after) from exc
        except SlackApiError as exc:
            if exc.error in TOKEN_ERRORS:
                type(self.workspace).objects.filter(pk=self.workspace.pk).update(token_invalid_at=timezone.now())
            # A named error other than the permanent ones (e.g. invalid_arguments)
            # will not change on retry either.
            raise TransportError(f"{method}: {exc.error or exc}", permanent=True) from exc
        except SlackError as exc:
            raise TransportError(f"{method}: {exc}") from exc

    def take_slot(self, channel: str) -> None:
        """At most one message per second per channel, across every worker: the
        first to ``cache.add`` the channel's key posts, the others are re-queued."""
        seconds = getattr(settings, "SLACK_CHANNEL_SLOT_SECONDS", CHANNEL_SLOT_SECONDS)
        if seconds <= 0:
            return
        if not cache.add(f"slack:slot:{self.workspace.team_id}:{channel}", 1, timeout=seconds):
            raise ChannelBusy(channel)

    # --- delivery ---------------------------------------------------------------------

    def prepare(self, message) -> None:
        """Create the incident's channel if the message goes there (in a transaction
        of its own: see ``slackbot.tasks._send``)."""
        if message.destination != "incident_channel" or message.incident is None or message.kind == TASKS_UPDATED:
            return
        self.ensure_channel(message.incident, invite=message.data.get("invite") or [])

    def send(self, message, attempt: DeliveryAttempt | None = None) -> None:
        if message.destination.startswith(EMAIL_PREFIX):
            return send_email(message)
        if message.destination.startswith("dm:"):
            return self._send_dm(message, attempt)
        if message.destination.startswith(CHANNEL_PREFIX):
            # A channel an admin named: it exists already (or Slack says
            # channel_not_found / not_in_channel, a permanent error shown on
            # Settings → Slack). Posted once, like every post (``_post``).
            channel = message.destination.removeprefix(CHANNEL_PREFIX)
            return self._post(message, channel, message.text, message.blocks or None, attempt=attempt)
        if message.incident is None:
            raise TransportError(f"{message.kind}: no incident to find a channel for", permanent=True)
        if message.kind == TASKS_UPDATED:
            return self._update_task_messages(message)
        channel = self.ensure_channel(message.incident, invite=message.data.get("invite") or [])
        if message.kind == TASKS_POSTED:
            status_id = _status_id_of(message)
            existing = self._stored(tasks_key(message.incident_id, status_id))
            text, blocks = self._render_tasks(message.incident, status_id)
            if existing is not None:  # already posted for this status: edit, never post twice
                self._edit(existing, text, blocks)
                return
            self._post(message, channel, text, blocks, key=tasks_key(message.incident_id, status_id), attempt=attempt)
            return
        self._post(message, channel, message.text, message.blocks or None, attempt=attempt)

    def _stored(self, key: str):
        from slackbot.models import SlackMessage

        return SlackMessage.objects.filter(org_id=self.workspace.org_id, key=key).order_by("pk").first()

    def _post(self, message, channel: str, text: str, blocks, *, key: str = "",
              attempt: DeliveryAttempt | None = None):
        """Post ``message`` once. Each post carries the outbox id as message
        metadata; when an earlier attempt may have posted it unrecorded, that post
        is looked for in the channel first and recorded instead of posting again."""
        if attempt is not None and attempt.recovering_since is not None:
            found = self._find_post(message, channel, since=attempt.recovering_since)
            if found is not None:
                logger.info("Slack message %s was posted by an earlier attempt (ts %s)", message.pk, found["ts"])
                if not key:
                    return self._record(message, channel, found["ts"], key=key,
                                        content_hash=_content_hash(text, blocks or []))
                # A task message shows the state it was rendered in: bring it up to date.
                stored = self._record(message, channel, found["ts"], key=key, content_hash="")
                self._edit(stored, text, blocks or [])
                return stored
            attempt.doubt_resolved = True
        self.take_slot(channel)
        if attempt is not None:
            attempt.check_time_left(DEFAULT_TIMEOUT + 2)
        kwargs = {"channel": channel, "text": text[:39000], "unfurl_links": False,
                  "metadata": {"event_type": OUTBOX_EVENT_TYPE, "event_payload": {"outbox_id": str(message.public_id)}}}
        if blocks:
            kwargs["blocks"] = blocks
        try:
            response = self.call("chat_postMessage", **kwargs)
        except TransportError as exc:
            # No answer (a timeout, a 5xx) is not a "no": Slack may have posted it.
            exc.maybe_posted = not exc.permanent and exc.retry_after is None
            if exc.maybe_posted and getattr(exc.__cause__, "status", None) is None:
                # No HTTP answer at all: Slack may still be working on it.
                exc.settle_seconds = POST_SETTLE_SECONDS
            raise
        return self._record(message, response.get("channel") or channel, response["ts"], key=key,
                            content_hash=_content_hash(text, blocks or []))

    def _record(self, message, channel: str, ts: str, *, key: str, content_hash: str):
        from slackbot.models import SlackMessage

        permalink = self._permalink(channel, ts)
        stored = SlackMessage.objects.create(
            org_id=message.org_id, incident_id=message.incident_id, outbox=message, key=key,
            channel_id=channel, ts=ts, permalink=permalink, content_hash=content_hash,
        )
        self._link_timeline(message, permalink)
        return stored

    def _find_post(self, message, channel: str, *, since) -> dict | None:
        """The post of ``message`` in ``channel`` since ``since``, found by its
        metadata (``conversations.history``), or None."""
        oldest = f"{since.timestamp() - HISTORY_MARGIN_SECONDS:.6f}"
        outbox_id = str(message.public_id)
        cursor = None
        for _ in range(HISTORY_PAGES):
            try:
                page = self.call("conversations_history", channel=channel, oldest=oldest, limit=200,
                                 include_all_metadata=True, cursor=cursor)
            except TransportError as exc:
                if getattr(exc.__cause__, "error", "") != "missing_scope":
                    raise
                # Installed before the history scopes were asked for: post (maybe
                # twice) rather than never. Reinstalling the app grants them.
                logger.warning("Cannot look for Slack message %s in %s: reinstall the app to grant the "
                               "history scopes (docs/slack.md)", message.pk, channel)
                return None
            for posted in page.get("messages") or []:
                metadata = posted.get("metadata") or {}
                if (metadata.get("event_type") == OUTBOX_EVENT_TYPE
                        and (metadata.get("event_payload") or {}).get("outbox_id") == outbox_id):
                    return posted
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        logger.warning("Slack message %s: %d pages of %s searched without finding it; posting", message.pk,
                       HISTORY_PAGES, channel)
        return None

    def _edit(self, stored, text: str, blocks: list) -> None:
        digest = _content_hash(text, blocks)
        if digest == stored.content_hash:
            return
        self.call("chat_update", channel=stored.channel_id, ts=stored.ts, text=text[:39000], blocks=blocks)
        stored.content_hash = digest
        stored.updated_at = timezone.now()
        stored.save(update_fields=["content_hash", "updated_at"])

    def _permalink(self, channel: str, ts: str) -> str:
        try:
            return call_slack(self.client.chat_getPermalink, channel=channel, message_ts=ts).get("permalink") or ""
        except SlackError:
            return ""  # a missing link is not worth failing a delivered message

    def _link_timeline(self, message, permalink: str) -> None:
        """Timeline items posted to Slack link to the message ("Slack message →")."""
        if not permalink or message.incident_id is None:
            return
        event = None
        if message.data.get("event"):
            event = TimelineEvent.objects.filter(incident_id=message.incident_id, public_id=message.data["event"]).first()
        else:
            kinds = {
                TASKS_POSTED: [EventKind.LEARNING_FLOW_ENTERED, EventKind.LEARNING_STATUS_CHANGED],
                learning_messages.FLOW_OPTED_OUT: [EventKind.LEARNING_FLOW_OPTED_OUT],
                learning_messages.FLOW_COMPLETED: [EventKind.LEARNING_FLOW_COMPLETED],
            }.get(message.kind)
            if kinds:
                event = (
                    TimelineEvent.objects.filter(incident_id=message.incident_id, kind__in=kinds, slack_permalink="")
                    .order_by("-occurred_at", "-pk").first()
                )
        if event is not None and not event.slack_permalink:
            event.slack_permalink = permalink[:200]
            event.save(update_fields=["slack_permalink"], allow_update=True)

    # --- task messages -------------------------------------------------------------------

    def _render_tasks(self, incident, status_id: int):
        incident.refresh_from_db(fields=["status", "learning_flow"])
        status = IncidentStatus.objects.get(pk=status_id, org_id=incident.org_id)
        tasks = list(LearningTask.objects.filter(incident=incident, status=status).select_related("assignee"))
        slack_ids = _slack_ids(incident.org, [t.assignee_id for t in tasks])
        current = incident.learning_flow == LearningFlowState.RUNNING and incident.status_id == status.pk
        footer = ""
        if not current:
            if incident.learning_flow == LearningFlowState.OPTED_OUT:
                footer = "The learning flow was opted out of; the incident is closed."
            elif incident.learning_flow == LearningFlowState.COMPLETED:
                footer = "The learning flow is complete and the incident is closed."
            elif incident.learning_flow == LearningFlowState.RUNNING:
                footer = f"Moved on to {escape(incident.status.name)}."
        return kit.task_message(incident, status, tasks, slack_ids=slack_ids, current=current, footer=footer)

    def _update_task_messages(self, message) -> None:
        from slackbot.models import OutboxMessage, OutboxState, SlackMessage

        # Coalesce: a newer pending update renders the same (later) state.
        if OutboxMessage.objects.filter(
            incident_id=message.incident_id, kind=TASKS_UPDATED, state=OutboxState.PENDING, pk__gt=message.pk
        ).exists():
            return
        prefix = f"tasks:{message.incident_id}:"
        for stored in SlackMessage.objects.filter(org_id=message.org_id, key__startswith=prefix).order_by("pk"):
            text, blocks = self._render_tasks(message.incident, int(stored.key.removeprefix(prefix)))
            self._edit(stored, text, blocks)

    # --- channels and DMs ---------------------------------------------------------------------

    def ensure_channel(self, incident, *, invite: list[str]) -> str:
        """The incident's channel id; created (and stored) the first time."""
        from incidentio.incidents.models import Incident

        if incident.slack_channel_id:
            return incident.slack_channel_id
        # Lock the incident row while creating: two messages delivered at once
        # for a new incident would otherwise create two channels.
        locked = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
        if locked.slack_channel_id:
            incident.slack_channel_id = locked.slack_channel_id
            return locked.slack_channel_id
        name = channel_name(incident)
        try:
            response = call_slack(self.client.conversations_create, name=name)
        except SlackApiError as exc:
            if exc.error != "name_taken":
                raise TransportError(f"conversations.create: {exc.error}", permanent=True) from exc
            suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=4))
            response = self.call("conversations_create", name=f"{name[:75]}-{suffix}")
        except SlackRateLimited as exc:
            raise TransportError("conversations.create: rate limited", retry_after=exc.retry_after) from exc
        except SlackError as exc:
            raise TransportError(f"conversations.create: {exc}") from exc
        channel = response["channel"]["id"]
        Incident.objects.filter(pk=incident.pk).update(slack_channel_id=channel)
        incident.slack_channel_id = channel
        users = [u for u in invite if u and u != self.workspace.bot_user_id]
        if users:
            try:
                call_slack(self.client.conversations_invite, channel=channel, users=",".join(users))
            except SlackError as exc:
                logger.info("Inviting %s to %s failed: %s", users, channel, exc)
        return channel

    def _send_dm(self, message, attempt: DeliveryAttempt | None = None) -> None:
        from slackbot.people import NoSlackAccount, slack_id_for_user

        user = _user_for_dm(message)
        if user is None:
            raise TransportError("the recipient is no longer a member", permanent=True)
        try:
            slack_user_id = self.call_lookup(slack_id_for_user, user)
        except NoSlackAccount:
            _email(user, message)
            return
        opened = self.call("conversations_open", users=slack_user_id)
        channel = opened["channel"]["id"]
        text, blocks = message.text, message.blocks or None
        if message.kind == TASK_ASSIGNED and message.incident is not None:
            task_ids = message.data.get("task_ids") or []
            text, blocks = self._render_dm_tasks(message.incident, user, task_ids) or (text, blocks)
        self._post(message, channel, text, blocks, attempt=attempt)

    def call_lookup(self, fn, user):
        try:
            return fn(self.workspace, user)
        except SlackRateLimited as exc:
            raise TransportError("users.lookupByEmail: rate limited", retry_after=exc.retry_after) from exc
        except SlackPermanentError as exc:
            raise TransportError(f"users.lookupByEmail: {exc.error}", permanent=True) from exc
        except SlackError as exc:
            raise TransportError(f"users.lookupByEmail: {exc}") from exc

    def _render_dm_tasks(self, incident, user, task_ids):
        """The DM shows the tasks it is about (still theirs and outstanding)."""
        tasks = LearningTask.objects.filter(
            incident=incident, status_id=incident.status_id, assignee=user, state=TaskState.OUTSTANDING
        ).select_related("assignee")
        if task_ids:
            tasks = tasks.filter(public_id__in=task_ids)
        tasks = list(tasks)
        if not tasks:
            return None
        return kit.task_dm(incident, tasks, slack_ids=_slack_ids(incident.org, [user.pk]))


def _slack_ids(org, user_ids) -> dict:
    from slackbot.people import known_slack_ids

    return known_slack_ids(org, user_ids)


def _status_id_of(message) -> int:
    """The learning status a task message shows: ``data["status_id"]``, put
    there by the learning flow when it queued the message."""
    if message.data.get("status_id"):
        return int(message.data["status_id"])
    return message.incident.status_id


def get_transport(message=None):
    """Slack when the message's org has a connected workspace, else the console."""
    if message is not None:
        from slackbot.models import SlackWorkspace

        workspace = SlackWorkspace.objects.filter(org_id=message.org_id).first()
        if workspace is not None:
            return SlackTransport(workspace)
    return ConsoleTransport()
