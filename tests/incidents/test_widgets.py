"""The Python-rendered selects (incidentio/widgets.py) produce what Django's
template-rendered ones do: same attributes, options, selection and escaping."""

from __future__ import annotations

from html.parser import HTMLParser

from django import forms

from incidentio.widgets import FastSelect, FastSelectMultiple

CHOICES = [("", "— Nobody —"), ("1", "Ada <admin> & co"), ("2", 'Bob "the builder"'), ("3", "Chloé")]


class Elements(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.found: list = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, sorted(attrs)))

    def handle_data(self, data):
        if data.strip():
            self.found.append(("text", data.strip()))


def _both(fast_class, django_class, value, attrs):
    fast = fast_class(choices=CHOICES).render("who", value, attrs=attrs)
    slow = django_class(choices=CHOICES).render("who", value, attrs=attrs)
    return Elements(fast).found, Elements(slow).found


def test_a_single_select_renders_like_djangos():
    fast, slow = _both(FastSelect, forms.Select, "2", {"id": "id_who", "required": True})
    assert fast == slow
    assert ("option", [("selected", None), ("value", "2")]) in fast
    assert ("text", "Ada <admin> & co") in fast  # escaped in the HTML, the same text once parsed


def test_a_multiple_select_renders_like_djangos():
    fast, slow = _both(FastSelectMultiple, forms.SelectMultiple, ["1", "3"], {"id": "id_who"})
    assert fast == slow
    assert sum(1 for tag, attrs in fast if tag == "option" and ("selected", None) in attrs) == 2


def test_labels_cannot_inject_markup():
    html = FastSelect(choices=[("x", "<script>alert(1)</script>")]).render("who", "x")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_choices_escaped_once_render_as_escaping_each_time():
    """The incident page's member selects share one escaping of the members
    (``EscapedChoices``); what they render must not change."""
    from incidentio.widgets import EscapedChoices, OptionList, escape_choices

    shared = EscapedChoices(CHOICES, escape_choices(CHOICES))
    for fast_class, value in ((FastSelect, "2"), (FastSelectMultiple, ["1", "3"]), (FastSelect, None)):
        plain = fast_class(choices=CHOICES).render("who", value, attrs={"id": "id_who"})
        assert fast_class(choices=shared).render("who", value, attrs={"id": "id_who"}) == plain
    assert OptionList(shared).render("1") == OptionList(CHOICES).render("1")
    assert "Ada &lt;admin&gt; &amp; co" in OptionList(shared).render()


def test_the_members_selects_of_a_page_share_one_escaping(acme, owner, responder):
    from incidentio.incident_forms import DebriefForm, FollowUpForm, member_choices, org_members

    members = org_members(acme)
    assign, unassigned, attendees = (member_choices(acme, members=members),
                                     member_choices(acme, blank="— Unassigned —", members=members),
                                     member_choices(acme, blank=None, members=members))
    assert [label for _, label in assign[:1]] == ["— Nobody —"] and unassigned[0] == ("", "— Unassigned —")
    assert attendees == assign[1:] and attendees.escaped is members.escaped
    assert tuple(unassigned.escaped[1:]) == members.escaped
    # Read again with the same members, the choices are the ones already built.
    assert org_members(acme).escaped is members.escaped
    follow_up = FollowUpForm(org=acme, members=members)
    debrief = DebriefForm(org=acme, members=members)
    assert tuple(follow_up.fields["assignee"].widget.choices.escaped[1:]) == members.escaped
    assert f'value="{responder.pk}"' in str(debrief["attendees"])


def test_an_option_list_marks_only_the_chosen_value_whatever_was_chosen_before():
    from incidentio.widgets import EscapedChoices, OptionList, escape_choices

    options = OptionList(EscapedChoices(CHOICES, escape_choices(CHOICES)))
    # Each select of a page reuses the one list with another selection; each must match Django's
    # markup, but for the empty choice: it is first, so the browser shows it unmarked all the same.
    for value in ("2", "1", None, "3", "", "999", "2"):
        select = f'<select name="who" id="id_who">{options.render(value)}</select>'
        django = forms.Select(choices=CHOICES).render("who", value, attrs={"id": "id_who"})
        assert Elements(select).found == Elements(django.replace('value="" selected', 'value=""')).found
        assert select.count(" selected") == (1 if value in ("1", "2", "3") else 0)


def test_the_member_option_list_is_built_once_per_member_list(acme, owner, responder):
    from incidentio.incident_forms import org_members

    members = org_members(acme)
    assert org_members(acme).options is members.options  # the same members read again
    assert f'<option value="{responder.pk}" selected>' in members.options.render(responder.pk)
    assert members.options.render().startswith('<option value="">— Nobody —</option>')
