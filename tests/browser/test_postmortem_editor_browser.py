"""The post-mortem editor (issue 21, item 10; docs/incidents.md), in Chromium:
EasyMDE with a live preview that is the server's sanitised rendering, under
the strict Content-Security-Policy, keeping drafts like every form."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from incidentio.common.actors import Actor
from incidentio.incidents.services.incidents import incident_declare
from orgs.models import Organization, Role
from tests.browser.helpers import sign_in
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "rita@acme.test"


@pytest.fixture
def incident_path():
    acme = OrganizationFactory(slug="acme", name="Acme Inc.")
    rita = UserFactory(email=EMAIL, name="Rita Responder")
    MembershipFactory(org=acme, role=Role.RESPONDER, user=rita)
    incident = incident_declare(org=Organization.objects.get(slug="acme"), actor=Actor.for_user(rita),
                                name="Checkout is down")
    return f"/acme/incidents/{incident.public_id}/"


def type_in_editor(page: Page, text: str) -> None:
    """Replace the editor's text by typing, as a person would."""
    page.locator(".EasyMDEContainer .CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)


def test_write_with_a_live_server_preview_keep_a_draft_and_save(incident_path, browser_context, live_server):
    page = browser_context.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    elsewhere: list[str] = []
    page.on("request", lambda r: elsewhere.append(r.url) if not r.url.startswith(live_server.url) else None)
    previews: list[str] = []
    page.on("request", lambda r: previews.append(r.method) if r.url.endswith("/postmortem/preview/") else None)

    sign_in(page, incident_path, EMAIL)
    page.get_by_role("button", name="Write the post-mortem").click()
    expect(page.locator(".EasyMDEContainer .CodeMirror")).to_be_visible()
    # The live preview replaces the round trip of the Preview button.
    expect(page.get_by_role("button", name="Preview")).to_be_hidden()
    preview = page.get_by_test_id("postmortem-preview")

    type_in_editor(page, "## Root cause\n\nA **bad** deploy. <script>window.pwned = 1</script>\n")

    # Beside the text, without a click: the server's rendering, the script shown as text only.
    expect(preview.get_by_role("heading", name="Root cause", level=2)).to_be_visible()
    expect(preview.get_by_role("heading")).to_have_count(1)  # the template's headings were replaced
    expect(preview.locator("strong")).to_have_text("bad")
    expect(preview).to_contain_text("<script>window.pwned = 1</script>")
    expect(preview.locator("script")).to_have_count(0)
    assert page.evaluate("typeof window.pwned") == "undefined"
    expect(page.get_by_test_id("preview-state")).to_have_text("Preview of unsaved changes.")
    assert previews and set(previews) == {"POST"}
    assert len(previews) < 10  # debounced: not one request per keystroke

    # Leaving the page unsaved loses nothing: the editor comes back with the text.
    page.reload()
    expect(page.get_by_test_id("draft-restored")).to_contain_text("Restored the text you had not sent")
    expect(page.locator(".EasyMDEContainer .CodeMirror")).to_contain_text("A **bad** deploy.")
    expect(preview.get_by_role("heading")).to_have_text(["Root cause"])

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Post-mortem saved.")).to_be_visible()
    expect(page.get_by_test_id("draft-restored")).to_have_count(0)
    expect(preview.get_by_role("heading")).to_have_text(["Root cause"])  # now the saved text, rendered by the page
    expect(page.get_by_test_id("preview-state")).to_be_hidden()

    # On the incident page: the post-mortem is there, and the timeline says so.
    page.get_by_role("link", name="INC-1").click()
    expect(page.get_by_test_id("timeline")).to_contain_text("Post-mortem created")
    page.get_by_role("link", name="Open the post-mortem").click()
    expect(preview.locator("strong")).to_have_text("bad")
    expect(page.get_by_test_id("draft-restored")).to_have_count(0)

    assert violations == []
    assert elsewhere == []  # no CDN: no font, no spell-check dictionary, nothing from another origin


def test_without_scripts_the_page_is_the_plain_form(incident_path, browser, live_server):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, incident_path + "postmortem/", EMAIL)
        page.locator("textarea[name=content]").fill("## Impact\n\nNone *at all*.")
        page.get_by_role("button", name="Preview").click()
        expect(page.get_by_test_id("postmortem-preview").locator("em")).to_have_text("at all")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_text("Post-mortem saved.")).to_be_visible()
        expect(page.get_by_test_id("postmortem-preview").locator("h2")).to_have_text("Impact")
    finally:
        context.close()


def test_a_draft_over_text_someone_else_saved_since_says_so_and_discard_shows_theirs(
    incident_path, browser_context
):
    from incidentio.incidents.models import Incident
    from incidentio.incidents.services import documents
    from orgs.models import User

    page = browser_context.new_page()
    sign_in(page, incident_path + "postmortem/", EMAIL)
    type_in_editor(page, "My unsent version")
    expect(page.get_by_test_id("preview-state")).to_have_text("Preview of unsaved changes.")

    # Meanwhile someone saves the post-mortem elsewhere.
    documents.postmortem_create(incident=Incident.objects.get(), actor=Actor.for_user(User.objects.get(email=EMAIL)),
                                content="Their saved version")

    page.reload()
    restored = page.get_by_test_id("draft-restored")
    expect(restored).to_contain_text("The saved text has changed since")
    expect(page.locator(".EasyMDEContainer .CodeMirror")).to_contain_text("My unsent version")
    restored.get_by_role("button", name="Discard").click()
    expect(page.locator(".EasyMDEContainer .CodeMirror")).to_contain_text("Their saved version")
    expect(page.get_by_test_id("postmortem-preview")).to_contain_text("Their saved version")
    page.reload()
    expect(page.get_by_test_id("draft-restored")).to_have_count(0)
