"""Every page of the dashboard (tests/browser/pages.py) in Chromium: none
scrolls sideways on a 390 px phone, and axe-core finds no serious or critical
accessibility violation at 1440 or 390 px. Each test opens every page and
reports every offender at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.helpers import sign_in
from tests.browser.pages import OWNER_EMAIL, Page, seed_pages, unlisted_routes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}

# The element reaching furthest right past the viewport, described for a report.
# Elements inside a box that clips or scrolls sideways do not widen the page: skipped.
WIDEST_ELEMENT = """() => {
  const limit = document.documentElement.clientWidth;
  const clipped = (element) => {
    for (let box = element.parentElement; box && box !== document.body; box = box.parentElement) {
      if (getComputedStyle(box).overflowX !== "visible") return true;
    }
    return false;
  };
  let widest = null, right = limit;
  for (const element of document.body.querySelectorAll("*")) {
    // Its own box, or the text overflowing it (a <pre>'s long line).
    const box = element.getBoundingClientRect();
    const edge = box.left + Math.max(box.width, element.scrollWidth);
    if (edge <= limit + 0.5 || clipped(element)) continue;
    if (edge > right + 0.5 || (widest && edge >= right - 0.5 && widest.contains(element))) {
      widest = element; right = Math.max(right, edge);
    }
  }
  if (!widest) return "no element past the edge (margins?)";
  const classes = widest.classList.length ? "." + Array.from(widest.classList).join(".") : "";
  const text = (widest.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 50);
  return `<${widest.tagName.toLowerCase()}${widest.id ? "#" + widest.id : ""}${classes}> ` +
         `right edge ${Math.round(right)} px: "${text}"`;
}"""

# Elements cut off at the right by a box that hides its overflow (a card with
# overflow: hidden clips a table instead of letting the page scroll): the page
# fits, but the words are lost. Boxes of a pixel or two (visually hidden text) are skipped,
# and so is the inside of the post-mortem editor (CodeMirror): it wraps its lines itself
# and hides its native scrollbars by design, with an inner box 50 px wider than its frame.
CUT_OFF = """() => {
  const cut = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (!box.width || element.closest(".CodeMirror")) continue;
    for (let parent = element.parentElement; parent && parent !== document.body; parent = parent.parentElement) {
      const overflow = getComputedStyle(parent).overflowX;
      if (overflow === "visible") continue;
      const frame = parent.getBoundingClientRect();
      if ((overflow === "hidden" || overflow === "clip") && frame.width > 2 && box.right > frame.right + 1) {
        cut.push(`<${element.tagName.toLowerCase()}> "${(element.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 40)}"`);
      }
      break;
    }
  }
  return cut.slice(0, 3);
}"""

# axe's result, reduced to the serious and critical violations: "rule: target, target".
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ` + v.nodes.map((n) => n.target.join(" ")).join(", "));
}"""


@pytest.fixture
def pages(eager_celery) -> list[Page]:
    return seed_pages()


def _open_each(browser, live_server, pages: list[Page], viewport: dict, check) -> list[str]:
    """Open every page at ``viewport`` (signed in as the owner, or signed out) and collect ``check``'s problems."""
    problems = []
    for signed_in in (True, False):
        context = browser.new_context(base_url=live_server.url, viewport=viewport)
        context.set_default_timeout(10_000)
        try:
            tab = context.new_page()
            chosen = [page for page in pages if page.signed_in == signed_in]
            if signed_in:
                sign_in(tab, chosen[0].path, OWNER_EMAIL)
                tab.wait_for_url(f"**{chosen[0].path}")
            for page in chosen:
                response = tab.goto(page.path)
                if response is None or response.status != 200:
                    problems.append(f"{page.name} ({page.path}): answered {response and response.status}")
                    continue
                problems += [f"{page.name} ({page.path}): {problem}" for problem in check(tab)]
        finally:
            context.close()
    return problems


def test_every_page_of_the_urlconf_is_listed_or_excluded(pages):
    problems = unlisted_routes(pages)
    assert problems == [], "\n".join(problems)


def _scrolls_sideways(tab) -> list[str]:
    problems = [f"cut off: {element}" for element in tab.evaluate(CUT_OFF)]
    width = tab.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        problems.append(f"{width} px wide; widest element {tab.evaluate(WIDEST_ELEMENT)}")
    return problems


def test_no_page_scrolls_sideways_nor_cuts_words_off_on_a_phone(pages, browser, live_server):
    problems = _open_each(browser, live_server, pages, PHONE, _scrolls_sideways)
    assert problems == [], "pages wider than 390 px, or cutting words off:\n" + "\n".join(problems)


def _axe_violations(tab) -> list[str]:
    # Through DevTools, not a <script> tag: the Content-Security-Policy refuses
    # inline scripts (add_script_tag(path=...) inlines the file), and axe must
    # not need the policy loosened.
    if not tab.evaluate("typeof axe !== 'undefined'"):
        tab.evaluate(AXE.read_text(encoding="utf-8"))
    return tab.evaluate(AXE_RUN)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440", "390"])
def test_axe_finds_no_serious_violation_on_any_page(viewport, pages, browser, live_server):
    problems = _open_each(browser, live_server, pages, viewport, _axe_violations)
    assert problems == [], "axe-core, serious and critical violations:\n" + "\n".join(problems)
