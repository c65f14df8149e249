"""Browser profiles (Playwright contexts) on the live server; no Django here, so
``tests/browser/screenshots.py`` can share the browser setup outside pytest."""

from __future__ import annotations


def browser_profile(browser, live_server, **options):
    """A new browser profile on the live server (``options``: Playwright's
    ``new_context`` options, e.g. ``timezone_id``), closed when the test ends."""
    context = browser.new_context(base_url=live_server.url, **options)
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()
