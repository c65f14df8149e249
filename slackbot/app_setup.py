"""What an admin needs to set up the Slack app by hand: its URLs and manifest,
every one built from ``SITE_URL`` (the address Slack reaches this server at)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse

MANIFEST_PATH = Path(__file__).with_name("manifest.yml")
# The manifest in the repository names this host; the page shows SITE_URL instead.
MANIFEST_PLACEHOLDER = "https://incidentio.example.com"


def site_url(path: str) -> str:
    """``path`` on this server as Slack reaches it."""
    return settings.SITE_URL.rstrip("/") + path


def request_url() -> str:
    """Where Slack sends slash commands, interactivity and events."""
    return site_url(reverse("slack_events"))


def redirect_url() -> str:
    """Where Slack sends the browser back after "Add to Slack"."""
    return site_url(reverse("slack_oauth_redirect"))


@lru_cache(maxsize=1)
def _manifest_body() -> str:
    # The file's opening comment tells a reader to replace the host: not part of the app.
    lines = MANIFEST_PATH.read_text().splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def manifest() -> str:
    """The app manifest (slackbot/manifest.yml) with this server's URLs."""
    return _manifest_body().replace(MANIFEST_PLACEHOLDER, settings.SITE_URL.rstrip("/"))


def site_url_mismatch(request) -> str | None:
    """The address this page was opened at, when it is not ``SITE_URL``'s.

    Slack can only reach ``SITE_URL``: when people open the app elsewhere (the
    usual cause: ``SITE_URL`` left at its default while the server runs on
    another host or port), the URLs above are wrong and the page says so.
    """
    configured = urlsplit(settings.SITE_URL)
    here = f"{request.scheme}://{request.get_host()}"
    if (configured.scheme, configured.netloc) == (request.scheme, request.get_host()):
        return None
    return here
