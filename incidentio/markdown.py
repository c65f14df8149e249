"""Markdown written by people (summaries, updates, post-mortems, instructions),
rendered to HTML that is safe to put on a page.

Markdown renders first, then nh3 (a maintained HTML sanitizer) keeps only an
allow-list of tags and attributes: <script>, event handlers and
``javascript:`` links never survive, whatever the markdown contained.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import markdown as markdown_lib
import nh3
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "a", "table", "thead", "tbody", "tr", "th", "td", "img",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
    "code": {"class"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


#: Texts longer than this are rendered every time rather than kept in memory.
CACHED_TEXT_MAX_CHARS = 20_000
_local = threading.local()


def _converter() -> markdown_lib.Markdown:
    """One converter per thread: building one (extensions, patterns) costs more
    than converting a typical update, and a converter is not thread-safe."""
    converter = getattr(_local, "converter", None)
    if converter is None:
        converter = _local.converter = markdown_lib.Markdown(extensions=["fenced_code", "tables", "sane_lists"])
    return converter


def render_markdown(text: str) -> SafeString:
    text = text or ""
    if len(text) <= CACHED_TEXT_MAX_CHARS:
        return _render_cached(text)
    return _render(text)


@lru_cache(maxsize=4096)
def _render_cached(text: str) -> SafeString:
    """The output depends on the text alone, so a cached result is never stale:
    an incident page re-renders only the updates it has not shown before."""
    return _render(text)


def _render(text: str) -> SafeString:
    html = _converter().reset().convert(text)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 - sanitized by nh3 just above
