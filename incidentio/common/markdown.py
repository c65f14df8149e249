"""Markdown written by people (summaries, updates, post-mortems, instructions),
rendered to HTML that is safe to put on a page.

markdown-it-py parses CommonMark (plus tables and ~~strikethrough~~), then nh3
(a maintained HTML sanitizer) keeps only an allow-list of tags and attributes:
<script>, event handlers and ``javascript:`` links never survive, whatever the
markdown contained.

Why markdown-it-py: its CommonMark algorithms (the delimiter stack for
emphasis, bracket matching for links) run in linear time on the pathological
inputs of the CommonMark spec. Python-Markdown's regex patterns did not: a
summary of 10,000 ``[`` took 10 s to render, on every view of the page
(issue #22). tests/incidents/test_markdown_pathological.py holds the bound.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "a", "table", "thead", "tbody", "tr", "th", "td", "img",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
    "code": {"class"},
    "ol": {"start"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


#: Texts longer than this are rendered every time rather than kept in memory.
#: Summaries and updates are capped at this length (incidentio/common/limits.py), so
#: every one of them is cached; only post-mortems can be longer.
CACHED_TEXT_MAX_CHARS = 20_000

# html=False: raw HTML in the text is shown as text, never parsed as tags.
# Nobody needs raw HTML in an incident write-up (markdown covers the
# allow-list), a post-mortem that quotes an attacker's payload shows it
# instead of silently losing it, and tags typed by a user never reach the
# sanitizer as tags at all. nh3 below still cleans what markdown-it itself
# emits (link and image URLs), so one layer failing is not enough to inject.
# The "commonmark" preset also caps block nesting (maxNesting = 20), so
# ">>>>…" or deeply indented lists cannot build a deep tree.
_parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render_markdown(text: str, *, cache: bool = True) -> SafeString:
    """``text`` as sanitised HTML. ``cache=False`` for a text seen once (the
    post-mortem editor's live preview, one per pause in typing), so drafts do
    not fill the cache the incident pages' updates rely on."""
    text = text or ""
    if cache and len(text) <= CACHED_TEXT_MAX_CHARS:
        return _render_cached(text)
    return _render(text)


@lru_cache(maxsize=4096)
def _render_cached(text: str) -> SafeString:
    """The output depends on the text alone, so a cached result is never stale:
    an incident page re-renders only the updates it has not shown before."""
    return _render(text)


def _render(text: str) -> SafeString:
    # A MarkdownIt instance keeps no per-document state (render() builds a
    # fresh state object), so one instance serves every thread.
    html = _parser.render(text)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # safe: sanitized by nh3 just above
