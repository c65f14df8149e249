"""Dashboard views of the learning flow: task actions on the incident page,
opting out from inside the flow, and "My tasks"."""

from __future__ import annotations

from django import forms
from django.core import signing
from django.shortcuts import render

from incidentio.common import limits
from incidentio.common.links import incident_url_prefix
from incidentio.incidents.forms import OrgForm, member_choices
from incidentio.incidents.selectors import follow_up_get
from incidentio.incidents.views.base import IncidentActionView
from learning import selectors
from learning.models import TaskState
from learning.services import flow, reminders, tasks
from orgs.views.base import OrgView


class _TaskAction(IncidentActionView):
    failure_anchor = "learning"

    def get_task(self, incident):
        return selectors.task_get_for_incident(incident=incident, public_id=self.kwargs["task_id"])

    def success_url(self, incident) -> str:
        return super().success_url(incident) + "#learning"


class TaskCompleteView(_TaskAction):
    success_message = "Task completed."

    def perform(self, incident, form):
        tasks.task_complete(task=self.get_task(incident), actor=self.actor)
        return incident


class NotDoingForm(forms.Form):
    reason = forms.CharField(required=False, max_length=limits.REASON, widget=forms.Textarea(attrs={"rows": 2}))


class TaskNotDoingView(_TaskAction):
    form_class = NotDoingForm
    success_message = "Task marked not doing."

    def perform(self, incident, form):
        tasks.task_not_doing(task=self.get_task(incident), actor=self.actor, reason=form.cleaned_data["reason"])
        return incident


class TaskReopenView(_TaskAction):
    success_message = "Task reopened."

    def perform(self, incident, form):
        tasks.task_reopen(task=self.get_task(incident), actor=self.actor)
        return incident


class AssignTaskForm(OrgForm):
    assignee = forms.ChoiceField(required=False)

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, org=org, **kwargs)
        self.fields["assignee"].choices = member_choices(org, blank="— Unassigned —")

    def clean_assignee(self):
        return self._member("assignee")


class TaskAssignView(_TaskAction):
    form_class = AssignTaskForm
    success_message = "Task assigned."

    def perform(self, incident, form):
        tasks.task_assign(task=self.get_task(incident), actor=self.actor, user=form.cleaned_data["assignee"])
        return incident


class OptOutForm(forms.Form):
    opt_out_reason = forms.CharField(max_length=limits.REASON, widget=forms.Textarea(attrs={"rows": 2}), label="Reason")


class OptOutView(IncidentActionView):
    """Leave a running learning flow, with a reason."""

    form_class = OptOutForm
    failure_anchor = "stop-flow"
    success_message = "Closed without the rest of the learning flow."

    def perform(self, incident, form):
        return flow.learning_opt_out(incident=incident, actor=self.actor, reason=form.cleaned_data["opt_out_reason"])


#: Tasks a page of "My tasks".
MY_TASKS_PAGE_SIZE = 50


class MyTasksFilterForm(forms.Form):
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *TaskState.choices])
    status = forms.UUIDField(required=False)
    sort = forms.ChoiceField(required=False, choices=[("", "Newest first"), ("due", "Due date, soonest first")])
    after = forms.CharField(required=False)


class MyTasksView(OrgView):
    """The signed-in member's learning tasks across incidents."""

    def get(self, request, org_slug):
        data = request.GET.copy()
        data.setdefault("state", TaskState.OUTSTANDING)
        form = MyTasksFilterForm(data)
        statuses = selectors.learning_status_list(org=self.org)
        if not form.is_valid():
            return self.render(form, statuses, selectors.TaskPage([], None), status=400)
        status = None
        if form.cleaned_data["status"]:
            status = next((s for s in statuses if s.public_id == form.cleaned_data["status"]), None)
            if status is None:
                form.add_error("status", "Choose one of the listed learning statuses.")
                return self.render(form, statuses, selectors.TaskPage([], None), status=400)
        sort = form.cleaned_data["sort"] or "newest"
        try:
            # The salt names the order: a link of one order is not a page of the other.
            after = signing.loads(form.cleaned_data["after"], salt=f"my-tasks:{sort}") \
                if form.cleaned_data["after"] else None
        except signing.BadSignature:
            form.add_error("after", "This page link is not valid; start from the first page.")
            return self.render(form, statuses, selectors.TaskPage([], None), status=400)
        page = selectors.my_tasks(
            org=self.org, user=request.user, state=form.cleaned_data["state"], status=status, after=after, sort=sort,
            page_size=MY_TASKS_PAGE_SIZE,
        )
        return self.render(form, statuses, page)

    def render(self, form, statuses, page, status=200):
        next_query = None
        if page.next_after is not None:
            query = self.request.GET.copy()
            sort = form.cleaned_data.get("sort") or "newest"
            query["after"] = signing.dumps(page.next_after, salt=f"my-tasks:{sort}")
            next_query = query.urlencode()
        context = self.get_context_data(
            nav="tasks", form=form, statuses=statuses, page=page, next_query=next_query,
            incident_url_prefix=incident_url_prefix(self.org),
            states=TaskState.choices, selected_state=form.data.get("state", ""),
            selected_status=self.request.GET.get("status", ""), selected_sort=self.request.GET.get("sort", ""),
        )
        return render(self.request, "learning/my_tasks.html", context, status=status)


class SnoozeForm(forms.Form):
    until = forms.DateField(label="Snooze reminders until", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(required=False, max_length=limits.REASON)


class _Snooze(IncidentActionView):
    """"Snooze reminders" on a task or follow-up of the incident page: until 09:00
    of the chosen day, in the org's time zone."""

    form_class = SnoozeForm
    success_message = "Reminders snoozed."

    def get_form(self, incident):
        # The item first: another org's (or a missing) one is a 404 whatever the form says.
        self.item = self.get_item(incident)
        return super().get_form(incident)

    def perform(self, incident, form):
        reminders.reminder_snooze(
            item=self.item, actor=self.actor,
            until=reminders.snooze_until_day(form.cleaned_data["until"], self.org), reason=form.cleaned_data["reason"],
        )
        return incident


class TaskSnoozeView(_TaskAction, _Snooze):
    def get_item(self, incident):
        return self.get_task(incident)


class FollowUpSnoozeView(_Snooze):
    failure_anchor = "follow-ups"

    def get_item(self, incident):
        return follow_up_get(incident=incident, public_id=self.kwargs["follow_up_id"])
