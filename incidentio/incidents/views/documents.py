"""The post-mortem editor, debriefs (with their .ics invite) and follow-ups."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string

from incidentio.common.errors import ServiceError
from incidentio.incidents import selectors
from incidentio.incidents.forms import (
    DebriefForm,
    FollowUpDueForm,
    FollowUpForm,
    PostmortemForm,
    PostmortemStatusForm,
)
from incidentio.incidents.ics import debrief_invite
from incidentio.incidents.models import PostmortemStatus
from incidentio.incidents.services import documents, follow_ups
from incidentio.incidents.views.base import IncidentActionView, IncidentView
from orgs.models import WRITER_ROLE


class PostmortemView(IncidentView):
    """The editor: markdown on the left, the rendered preview on the right.

    "Preview" renders what was typed without saving; "Save" saves it.
    """

    def get(self, request, org_slug, incident_id):
        incident = self.get_incident()
        postmortem = getattr(incident, "postmortem", None)
        form = PostmortemForm(initial={"content": postmortem.content if postmortem else ""})
        return self.render(incident, postmortem, form, preview=postmortem.content if postmortem else "")

    def post(self, request, org_slug, incident_id):
        incident = self.get_incident()
        postmortem = getattr(incident, "postmortem", None)
        form = PostmortemForm(request.POST)
        if not form.is_valid():
            return self.render(incident, postmortem, form, preview="", status=400)
        content = form.cleaned_data["content"]
        if request.POST.get("action") == "preview":
            return self.render(incident, postmortem, form, preview=content, unsaved=True)
        try:
            if postmortem is None:
                documents.postmortem_create(incident=incident, actor=self.actor, content=content)
            else:
                documents.postmortem_edit(postmortem=postmortem, actor=self.actor, content=content)
        except ServiceError as exc:
            form.add_error("content", str(exc))
            return self.render(incident, postmortem, form, preview=content, status=400)
        messages.success(request, "Post-mortem saved.")
        return redirect("postmortem", org_slug=self.org.slug, incident_id=incident.public_id)

    def render(self, incident, postmortem, form, *, preview, unsaved=False, status=200):
        context = self.get_context_data(
            nav="incidents",
            incident=incident,
            postmortem=postmortem,
            form=form,
            preview=preview,
            unsaved=unsaved,
            statuses=PostmortemStatus.choices,
            can_act=self.membership.may_write,
        )
        return render(self.request, "incidents/postmortem.html", context, status=status)

    def get_incident(self):
        incident = super().get_incident()
        # Reads the post-mortem in the same query as the incident.
        return type(incident).objects.select_related("postmortem", "status", "severity").get(pk=incident.pk)


class PostmortemPreviewView(IncidentView):
    """The editor's live preview (static/js/postmortem_editor.js): the text it
    is sent, rendered as the page renders it (incidentio/common/markdown.py,
    sanitised), as an HTML fragment. Nothing is saved. Responders only, as for
    saving; another org's incident is a 404 and a post without a valid CSRF
    token is refused like any other."""

    http_method_names = ["post"]
    required_role = WRITER_ROLE

    def post(self, request, org_slug, incident_id):
        self.get_incident()
        form = PostmortemForm(request.POST)
        if not form.is_valid():
            errors = " ".join(form.errors.get("content", [])) or "The text could not be read."
            return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
        html = render_to_string("incidents/_postmortem_preview.html", {"preview": form.cleaned_data["content"]})
        return HttpResponse(html, content_type="text/html; charset=utf-8")


class _PostmortemAction(IncidentActionView):
    def get_postmortem(self, incident):
        postmortem = getattr(incident, "postmortem", None)
        if postmortem is None:
            raise ServiceError(f"{incident.reference} has no post-mortem yet; write one first.")
        return postmortem

    def success_url(self, incident) -> str:
        from django.urls import reverse

        return reverse("postmortem", kwargs={"org_slug": self.org.slug, "incident_id": incident.public_id})

    failure_page = success_url  # the forms are on the post-mortem's page


class PostmortemCreateView(_PostmortemAction):
    success_message = "Post-mortem created from the template."

    def failure_page(self, incident) -> str:
        return IncidentActionView.failure_page(self, incident)  # its button is on the incident page

    def perform(self, incident, form):
        documents.postmortem_create(incident=incident, actor=self.actor)
        return incident


class PostmortemStatusView(_PostmortemAction):
    form_class = PostmortemStatusForm
    shown_fields = ()  # a select of the statuses: only a forged post fails, said in a flash message
    success_message = "Post-mortem status saved."

    def perform(self, incident, form):
        documents.postmortem_set_status(
            postmortem=self.get_postmortem(incident), actor=self.actor, status=form.cleaned_data["status"]
        )
        return incident


class PostmortemShareView(_PostmortemAction):
    success_message = "Post-mortem shared."

    def perform(self, incident, form):
        documents.postmortem_share(postmortem=self.get_postmortem(incident), actor=self.actor)
        return incident


class DebriefScheduleView(IncidentActionView):
    form_class = DebriefForm
    failure_anchor = "form-debrief"
    success_message = "Debrief scheduled. Download the invite to add it to calendars."

    def perform(self, incident, form):
        data = form.cleaned_data
        documents.debrief_schedule(
            incident=incident,
            actor=self.actor,
            scheduled_at=data["scheduled_at"],
            duration_minutes=data["duration_minutes"],
            location=data["location"],
            attendees=data["attendees"],
        )
        return incident


class DebriefInviteView(IncidentView):
    """The debrief as an .ics file that any calendar imports."""

    def get(self, request, org_slug, incident_id, debrief_id):
        incident = self.get_incident()
        debrief = selectors.debrief_get(incident=incident, public_id=debrief_id)
        response = HttpResponse(debrief_invite(debrief, incident=incident), content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{incident.reference}-debrief.ics"'
        return response


class FollowUpCreateView(IncidentActionView):
    form_class = FollowUpForm
    failure_anchor = "form-follow-up"
    success_message = "Follow-up added."

    def perform(self, incident, form):
        data = form.cleaned_data
        follow_ups.follow_up_create(
            incident=incident, actor=self.actor, title=data["title"], description=data["description"],
            assignee=data["assignee"], priority=data["priority"], due_at=data["due_date"],
        )
        return incident


class _FollowUpAction(IncidentActionView):
    def get_follow_up(self, incident):
        return selectors.follow_up_get(incident=incident, public_id=self.kwargs["follow_up_id"])


class FollowUpEditView(_FollowUpAction):
    """No dashboard page posts to it (its forms post to due/, complete/, not-doing/): errors are a flash message."""

    form_class = FollowUpForm
    shown_fields = ()
    success_message = "Follow-up saved."

    def perform(self, incident, form):
        data = form.cleaned_data
        follow_ups.follow_up_edit(
            follow_up=self.get_follow_up(incident), actor=self.actor, title=data["title"],
            description=data["description"], assignee=data["assignee"], priority=data["priority"],
            # A form without the field leaves the due date as it is; an empty one returns it to the policy.
            **({"due_at": data["due_date"]} if "due_date" in form.data else {}),
        )
        return incident


class FollowUpDueView(_FollowUpAction):
    """Set a follow-up's due date by hand, or (empty) return it to the policy."""

    form_class = FollowUpDueForm
    failure_anchor = "follow-ups"
    success_message = "Due date saved."

    def perform(self, incident, form):
        follow_ups.follow_up_edit(
            follow_up=self.get_follow_up(incident), actor=self.actor, due_at=form.cleaned_data["due_date"]
        )
        return incident


class FollowUpCompleteView(_FollowUpAction):
    success_message = "Follow-up completed."

    def perform(self, incident, form):
        follow_ups.follow_up_complete(follow_up=self.get_follow_up(incident), actor=self.actor)
        return incident


class FollowUpNotDoingView(_FollowUpAction):
    success_message = "Follow-up marked not doing."

    def perform(self, incident, form):
        reason = self.request.POST.get("reason", "")
        follow_ups.follow_up_not_doing(follow_up=self.get_follow_up(incident), actor=self.actor, reason=reason)
        return incident
