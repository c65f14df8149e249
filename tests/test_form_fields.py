"""Forms render through Django's own form renderer and widget templates; the
``{% field %}`` tag lays a field out as templates/_field.html does: label,
widget, help text, errors, each escaped."""

from __future__ import annotations

from django import forms
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.template import engines


def test_forms_use_djangos_default_renderer():
    assert type(get_default_renderer()) is DjangoTemplates


def _field_tag(field) -> str:
    return engines["django"].from_string("{% load fields %}{% field f %}").render({"f": field})


class Signup(forms.Form):
    name = forms.CharField(label="Your <name>", help_text="As colleagues know you & call you", max_length=5)
    team = forms.ChoiceField(choices=[("a", "Ops"), ("b", "<Dev> & co")], initial="b")


def test_the_field_tag_shows_label_widget_and_help():
    html = _field_tag(Signup()["name"])
    assert html.startswith('<div class="field"><label for="id_name">Your &lt;name&gt;</label><input type="text"')
    assert 'name="name"' in html and 'maxlength="5"' in html and 'id="id_name"' in html
    assert html.endswith('<small class="help">As colleagues know you &amp; call you</small></div>\n')


def test_the_field_tag_marks_and_lists_errors():
    form = Signup(data={"name": "<script>", "team": "a"})
    html = _field_tag(form["name"])
    assert html.startswith('<div class="field has-error">')
    assert '<small class="error">Ensure this value has at most 5 characters (it has 8).</small>' in html
    assert 'value="&lt;script&gt;"' in html
    assert "<script>" not in html


def test_a_select_offers_its_choices_escaped_with_the_current_one_chosen():
    html = _field_tag(Signup()["team"])
    assert '<option value="a">Ops</option>' in html
    assert '<option value="b" selected>&lt;Dev&gt; &amp; co</option>' in html


class Options(forms.Form):
    notify = forms.BooleanField(required=False, label="Tell <everyone>", help_text="By e-mail")
    token = forms.CharField(widget=forms.HiddenInput, initial="t1")


def test_a_checkbox_sits_before_its_label():
    html = _field_tag(Options()["notify"])
    assert html.startswith('<div class="field checkbox"><input type="checkbox" name="notify"')
    assert '> <label for="id_notify">Tell &lt;everyone&gt;</label><small class="help">By e-mail</small></div>' in html


def test_a_hidden_field_is_its_input_alone():
    assert _field_tag(Options()["token"]).strip() == '<input type="hidden" name="token" value="t1" id="id_token">'


def test_a_form_renders_field_by_field_in_a_loop():
    html = engines["django"].from_string(
        "{% load fields %}{% for field in form %}{% field field %}{% endfor %}"
    ).render({"form": Options()})
    assert html.index('name="notify"') < html.index('name="token"')
    assert html.count("<label") == 1
