"""The Post-incident page: every incident in the learning flow, and those
finished with it that still have outstanding follow-ups, with what is left
to do, what is late, and who holds it (docs/learning-flow.md)."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.core import signing
from django.shortcuts import render
from django.utils import timezone

from incidentio.common.links import incident_url_prefix
from incidentio.incidents.forms import member_options
from incidentio.incidents.models import IncidentType
from incidentio.incidents.selectors import member_rows
from learning import post_incident
from orgs.views.base import OrgView

_CURSOR_SALT = "post-incident"


class PostIncidentFilterForm(forms.Form):
    view = forms.ChoiceField(required=False, choices=[
        (post_incident.RUNNING, "In the learning flow"),
        (post_incident.FINISHED, "Finished, with outstanding follow-ups"),
    ])
    type = forms.ChoiceField(required=False, label="Type")
    owner = forms.ChoiceField(required=False, label="Owner")
    overdue = forms.BooleanField(required=False, label="Overdue only")
    sort = forms.ChoiceField(required=False, choices=[
        (post_incident.SORT_TIME, "Longest in status"),
        (post_incident.SORT_OVERDUE, "Most overdue"),
    ])
    after = forms.CharField(required=False)

    def __init__(self, *args, types, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.types = {str(t.public_id): t for t in types}
        self.fields["type"].choices = [("", "Any type"), *((str(t.public_id), t.name) for t in types)]
        self.fields["owner"].choices = [("", "Anyone"), *members]

    def filters(self) -> post_incident.Filters:
        data = self.cleaned_data
        chosen = self.types.get(data["type"])
        return post_incident.Filters(
            view=data["view"] or post_incident.RUNNING,
            type_id=chosen.pk if chosen else None,
            owner_id=int(data["owner"]) if data["owner"] else None,
            overdue_only=data["overdue"],
            sort=data["sort"] or post_incident.SORT_TIME,
        )

    def clean(self):
        data = super().clean()
        if self.errors or not data.get("after"):
            return data
        # A cursor belongs to the view and order it was made for.
        try:
            view, sort, late, since, pk = signing.loads(data["after"], salt=_CURSOR_SALT)
        except (signing.BadSignature, ValueError, TypeError):
            view = None
        if view != (data["view"] or post_incident.RUNNING) or sort != (data["sort"] or post_incident.SORT_TIME):
            self.add_error("after", "This page link is not valid; start from the first page.")
            return data
        data["cursor"] = post_incident.Cursor(late, datetime.fromisoformat(since), pk)
        return data


def _cursor_value(filters: post_incident.Filters, cursor: post_incident.Cursor) -> str:
    return signing.dumps([filters.view, filters.sort, cursor.late, cursor.since.isoformat(), cursor.id],
                         salt=_CURSOR_SALT)


class PostIncidentView(OrgView):
    """Every member may look: it shows what the incidents list shows, and who owes what."""

    def get(self, request, org_slug):
        types = list(IncidentType.objects.filter(org=self.org).order_by("rank", "pk"))
        form = PostIncidentFilterForm(request.GET, types=types, members=member_options(member_rows(org=self.org)))
        now = timezone.now()
        if not form.is_valid():
            return self.render(form, post_incident.Filters(), post_incident.Page([], None, now), status=400)
        filters = form.filters()
        page = post_incident.post_incident_page(org=self.org, filters=filters, now=now,
                                                after=form.cleaned_data.get("cursor"))
        return self.render(form, filters, page)

    def render(self, form, filters, page, status=200):
        query = self.request.GET.copy()
        query.pop("after", None)
        first_query = query.urlencode()
        next_query = None
        if page.next_cursor is not None:
            query["after"] = _cursor_value(filters, page.next_cursor)
            next_query = query.urlencode()
        rows = [(row, row.time_in_status(page.now)) for row in page.rows]
        context = self.get_context_data(
            nav="post_incident", form=form, filters=filters, rows=rows, url_prefix=incident_url_prefix(self.org),
            next_query=next_query, first_query=first_query, is_first_page=not self.request.GET.get("after"),
            filtered=bool(filters.type_id or filters.owner_id or filters.overdue_only),
            running=filters.view == post_incident.RUNNING, errors=[
                f"{form.fields[name].label or name.capitalize()}: {' '.join(errors)}"
                for name, errors in form.errors.items()
            ],
        )
        return render(self.request, "learning/post_incident.html", context, status=status)
