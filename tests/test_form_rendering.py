"""Fields and widgets rendered in Python (``incidentio/form_rendering.py``)
give the markup Django's own templates give, escaping included."""

from __future__ import annotations

import datetime as dt

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.template import engines
from django.utils.safestring import mark_safe

from incidentio.form_rendering import FastFormRenderer

HOSTILE = "a \"quoted\" <b>bold</b> & 'single' {{ x }}"


class EveryWidget(forms.Form):
    text = forms.CharField(widget=forms.TextInput(attrs={"placeholder": HOSTILE, "autofocus": True,
                                                         "spellcheck": False}))
    email = forms.EmailField(required=False)
    url = forms.URLField(assume_scheme="https")
    number = forms.IntegerField(min_value=1, max_value=9)
    password = forms.CharField(widget=forms.PasswordInput(render_value=True))
    hidden = forms.CharField(widget=forms.HiddenInput)
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    when = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    time = forms.TimeField()
    agree = forms.BooleanField(required=False)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}), max_length=50)
    safe = forms.CharField(widget=forms.TextInput)
    choice = forms.ChoiceField(choices=[("a", "A"), ("b", HOSTILE)], widget=forms.RadioSelect)


VALUES = [
    {},
    {"text": HOSTILE, "email": "x@example.com", "url": "https://example.com/?a=1&b=<2>", "number": 3,
     "password": HOSTILE, "hidden": HOSTILE, "day": dt.date(2026, 3, 7),
     "when": dt.datetime(2026, 3, 7, 14, 5), "time": dt.time(9, 30), "agree": True, "notes": HOSTILE + "\nline 2",
     "safe": mark_safe("<i>already safe</i>"), "choice": "b"},  # safe: a constant, the case under test
    {"notes": "", "agree": False, "number": 0},
]


def _render_each(form_data, renderer, *, bound: bool) -> dict[str, str]:
    form = EveryWidget(data=form_data, renderer=renderer) if bound else EveryWidget(initial=form_data,
                                                                                      renderer=renderer)
    return {name: str(form[name]) for name in form.fields}


@pytest.mark.parametrize("bound", [False, True])
@pytest.mark.parametrize("values", VALUES)
def test_every_widget_renders_as_djangos_templates_render_it(values, bound):
    fast = _render_each(values, FastFormRenderer(), bound=bound)
    django = _render_each(values, DjangoTemplates(), bound=bound)
    assert fast == django
    assert HOSTILE not in "".join(fast.values())  # everything hostile came out escaped


def test_the_fast_renderer_is_the_projects_form_renderer():
    from django.forms.renderers import get_default_renderer

    assert isinstance(get_default_renderer(), FastFormRenderer)


def _field_tag(field) -> str:
    return engines["django"].from_string("{% load fields %}{% field f %}").render({"f": field})


class Signup(forms.Form):
    name = forms.CharField(label="Your <name>", help_text="As colleagues know you & call you", max_length=5)


def test_the_field_tag_shows_label_widget_and_help():
    html = _field_tag(Signup()["name"])
    assert html == (
        '<div class="field"><label for="id_name">Your &lt;name&gt;</label>'
        '<input type="text" name="name" maxlength="5" required aria-describedby="id_name_helptext" id="id_name">'
        '<small class="help">As colleagues know you &amp; call you</small></div>'
    )


def test_the_field_tag_marks_and_lists_errors():
    form = Signup(data={"name": "<script>"})
    html = _field_tag(form["name"])
    assert html.startswith('<div class="field has-error">')
    assert '<small class="error">Ensure this value has at most 5 characters (it has 8).</small>' in html
    assert 'value="&lt;script&gt;"' in html
    assert "<script>" not in html
