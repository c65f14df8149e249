"""Post/redirect/get for refused forms too (docs/dashboard.md, "Forms: errors
next to their field, post/redirect/get").

A form whose action URL answers POST only (the incident page's actions, a
member's role) cannot render its page with the errors at that URL: the
address bar would keep the action's URL and a reload would answer 405. So a
refused post is remembered in the session — what was typed and the errors of
each field — and answered with a redirect (303) to the page the form is on.
That page's GET takes the failure back (once) and shows each error next to its
field, with the typed text, in the form whose action failed; a reload is a GET
of the page, without the errors. Errors that belong to no field shown on the
page are a flash message at the top.

A failure is kept for the page it was sent to only: another page, another tab
reading something else, never shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.datastructures import MultiValueDict

SESSION_KEY = "form_failure"
#: Posted fields not kept: the CSRF token and the identity the page was
#: rendered for (orgs/middleware.py) are the page's own, never typed.
_NOT_KEPT = frozenset({"csrfmiddlewaretoken", "_as"})


class _PlacedErrors(dict):
    """Errors by field that remember which fields the page read them for: a
    template shows a field's errors by reading ``failure.errors.<field>``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def __getitem__(self, name):
        self.read.add(name)
        return super().__getitem__(name)


@dataclass
class FormFailure:
    """A refused post, as the page that shows it reads it."""

    action: str  # the path the form posted to
    data: dict[str, list[str]]  # what was posted, by field
    errors: dict[str, list[str]] = field(default_factory=dict)  # by field name

    def __post_init__(self):
        self.errors = _PlacedErrors(self.errors)

    def unplaced_errors(self) -> list[str]:
        """The errors of fields the page did not show (the form or the field is
        not on the page any more: the incident was closed meanwhile): they go
        at the top of the page rather than nowhere."""
        return [message for name, messages_ in self.errors.items() if name not in self.errors.read
                for message in messages_]

    @property
    def values(self) -> dict[str, str]:
        """Each field's (last) posted value, for ``{{ failure.values.reason }}``."""
        return {name: values[-1] if values else "" for name, values in self.data.items()}

    def query_dict(self) -> MultiValueDict:
        """The posted data as a form's ``data`` (repeated fields keep every value)."""
        return MultiValueDict(self.data)

    def bind(self, form):
        """Show the errors on ``form`` (bound to ``query_dict()``): its own
        validation runs again, and errors only the service knew (a rule refused
        the change) are added to the field they name."""
        form.is_valid()
        for name in list(self.errors):
            messages_ = self.errors[name]  # read: shown with the form
            target = name if name in form.fields else None
            for message in messages_:
                if message not in form.errors.get(target or "__all__", []):
                    form.add_error(target, message)
        return form


def refuse(
    request: HttpRequest, *, to: str, errors: dict[str, list[str]], shown: frozenset[str] | set[str],
    anchor: str = "",
) -> HttpResponseRedirect:
    """Redirect (303) to the page at path ``to`` after a refused post to
    ``request.path``: the errors of the fields in ``shown`` (the ones the page
    shows next to their field) wait in the session for that page's next GET;
    any other error becomes a flash message now. Should the page no longer
    show that form (another person closed the incident meanwhile), it shows
    the errors at its top instead (``FormFailure.unplaced_errors``)."""
    inline: dict[str, list[str]] = {}
    for name, messages_ in errors.items():
        if name in shown:
            inline[name] = [str(m) for m in messages_]
        else:
            for message in messages_:
                messages.error(request, str(message))
    # Kept even when every error went to a flash message ("INC-3 is not in
    # triage"): the page shows the form again with what was typed in it.
    data = {name: request.POST.getlist(name) for name in request.POST if name not in _NOT_KEPT}
    request.session[SESSION_KEY] = {"page": to, "action": request.path, "data": data, "errors": inline}
    response = HttpResponseRedirect(f"{to}#{anchor}" if anchor else to)
    response.status_code = 303  # "See other": the browser GETs the page, whatever the method was
    return response


def take(request: HttpRequest) -> FormFailure | None:
    """The failure waiting for this page (``request.path``), taken out of the
    session: it is shown once. A failure left for another page stays put."""
    session = getattr(request, "session", None)
    if session is None:
        return None
    stored = session.get(SESSION_KEY)
    if not stored or stored.get("page") != request.path:
        return None
    del session[SESSION_KEY]
    return FormFailure(action=stored["action"], data=stored["data"], errors=stored["errors"])


def form_errors(form) -> dict[str, list[str]]:
    """A Django form's errors by field ("__all__" for the whole form)."""
    return {name: [str(message) for message in errors] for name, errors in form.errors.items()}
