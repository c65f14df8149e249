"""Settings → Working calendar (admin only): the org's time zone, working
days and holidays, which every due date counted in business days uses
(orgs/calendar.py)."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render

from incidentio.common.errors import add_service_error
from orgs import selectors, services
from orgs.calendar import WEEKDAY_NAMES, time_zone_names
from orgs.forms import HolidayForm, WorkingCalendarForm
from orgs.views.base import AdminView


class WorkingCalendarView(AdminView):
    template_name = "orgs/settings/calendar.html"

    def get(self, request, org_slug):
        return self.render(self._calendar_form(), HolidayForm())

    def _calendar_form(self, data=None):
        initial = {"time_zone": self.org.time_zone, "working_days": self.org.working_days}
        return WorkingCalendarForm(data, initial=initial)

    def post(self, request, org_slug):
        """Save the time zone and working days, or add a holiday (``action=holiday``)."""
        if request.POST.get("action") == "holiday":
            form = HolidayForm(request.POST)
            if form.is_valid():
                try:
                    holiday = services.holiday_add(org=self.org, **form.cleaned_data)
                except services.ServiceError as exc:
                    add_service_error(form, exc)
                else:
                    messages.success(request, f"{holiday.date:%a %-d %b %Y} is a holiday now.")
                    return redirect("settings_calendar", org_slug=self.org.slug)
            return self.render(self._calendar_form(), form, status=400)
        form = self._calendar_form(request.POST)
        if form.is_valid():
            try:
                services.working_calendar_update(org=self.org, **form.cleaned_data)
            except services.ServiceError as exc:
                add_service_error(form, exc)
            else:
                messages.success(request, "Working calendar saved.")
                return redirect("settings_calendar", org_slug=self.org.slug)
        return self.render(form, HolidayForm(), status=400)

    def render(self, form, holiday_form, status=200):
        # The org as saved: a refused form must not show its values as if they were in use.
        self.org.refresh_from_db(fields=["time_zone", "working_days"])
        context = self.get_context_data(
            form=form, holiday_form=holiday_form, holidays=selectors.holiday_list(org=self.org),
            time_zones=[(name, name) for name in time_zone_names()],
            selected_zone=form.data.get("time_zone", self.org.time_zone) if form.is_bound else self.org.time_zone,
            selected_days={int(d) for d in (form.data.getlist("working_days") if form.is_bound else
                                            self.org.working_days) if str(d).isdigit()},
            weekdays=list(enumerate(WEEKDAY_NAMES)),
            working_day_names=[WEEKDAY_NAMES[d] for d in sorted(self.org.working_days)],
            nav="settings", settings_tab="calendar",
        )
        return render(self.request, self.template_name, context, status=status)


class HolidayDeleteView(AdminView):
    http_method_names = ["post"]

    def post(self, request, org_slug, day):
        try:
            day = date.fromisoformat(day)
        except ValueError:
            raise Http404("No such holiday.") from None
        holiday = selectors.holiday_get(org=self.org, day=day)
        services.holiday_delete(holiday=holiday)
        messages.success(request, f"{holiday.date:%a %-d %b %Y} is no longer a holiday.")
        return redirect("settings_calendar", org_slug=self.org.slug)
