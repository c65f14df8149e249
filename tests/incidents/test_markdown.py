"""Markdown people write is rendered to HTML that cannot run script on our pages."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.template import Context, Template
from django.utils.safestring import SafeString

from incidentio.common.markdown import ALLOWED_TAGS, render_markdown


def render_filter(text: str) -> str:
    """Through the template filter the pages use."""
    return Template("{% load incidents %}{{ text|markdown }}").render(Context({"text": text}))


RENDERERS = [
    pytest.param(render_markdown, id="render_markdown"),
    pytest.param(render_filter, id="template_filter"),
]

ATTACKS = [
    pytest.param("<script>alert(1)</script>", id="script"),
    pytest.param("Hello <SCRIPT src=https://evil.example/x.js></SCRIPT>", id="script-upper"),
    pytest.param("<img src=x onerror=alert(1)>", id="img-onerror"),
    pytest.param('<p onclick="alert(1)">click</p>', id="onclick"),
    pytest.param("<b onmouseover=alert(1)>hover</b>", id="onmouseover"),
    pytest.param("<svg onload=alert(1)>", id="svg-onload"),
    pytest.param("[x](javascript:alert(1))", id="md-link-javascript"),
    pytest.param("[x](JaVaScRiPt:alert(1))", id="md-link-mixed-case"),
    pytest.param("[x](jav&#x09;ascript:alert(1))", id="md-link-entity-tab"),
    pytest.param("[x](&#106;avascript:alert(1))", id="md-link-entity-j"),
    pytest.param("![x](javascript:alert(1))", id="md-image-javascript"),
    pytest.param("<javascript:alert(1)>", id="md-autolink-javascript"),
    pytest.param('<a href="jav&#x09;ascript:alert(1)">x</a>', id="html-link-entity-tab"),
    pytest.param('<a href=" JAVASCRIPT:alert(1)">x</a>', id="html-link-space-upper"),
    pytest.param('<a href="java\nscript:alert(1)">x</a>', id="html-link-newline"),
    pytest.param('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', id="data-url"),
    pytest.param("<iframe src='https://evil.example'></iframe>", id="iframe"),
    pytest.param('<p style="background:url(javascript:alert(1))">styled</p>', id="style-attr"),
    pytest.param("<style>body{display:none}</style>", id="style-tag"),
    pytest.param("<form action=https://evil.example><input name=q></form>", id="form"),
]

FORBIDDEN_TAGS = {"script", "iframe", "svg", "style", "form", "input"}
URL_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.I)  # as the WHATWG URL parser reads a scheme


class _LiveMarkup(HTMLParser):
    """The elements and attributes a browser would build from the HTML: what
    text merely *shows* (``&lt;script&gt;``) is not live and is allowed."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, name, value or "") for name, value in attrs)


def live_markup(html: str) -> _LiveMarkup:
    parser = _LiveMarkup()
    parser.feed(html)
    parser.close()
    return parser


@pytest.mark.parametrize("render", RENDERERS)
@pytest.mark.parametrize("source", ATTACKS)
def test_dangerous_markup_never_reaches_the_page(render, source):
    live = live_markup(str(render(source)))

    assert not FORBIDDEN_TAGS & set(live.tags), live.tags
    assert set(live.tags) <= ALLOWED_TAGS, live.tags
    for tag, name, value in live.attrs:
        assert not name.startswith("on"), (tag, name, value)
        assert name != "style", (tag, name, value)
        if name in ("href", "src"):
            # What the browser resolves: entities decoded, control characters and spaces dropped.
            url = re.sub(r"[\x00-\x20]", "", value)
            scheme = URL_SCHEME.match(url)
            # No scheme is a relative URL (e.g. "jav%09ascript:x" is a path).
            assert scheme is None or scheme[1].lower() in ("http", "https", "mailto"), (tag, name, value)


@pytest.mark.parametrize("render", RENDERERS)
def test_raw_html_is_shown_as_text_not_run(render):
    """Raw HTML is not markdown here: a post-mortem quoting an attacker's payload
    shows it, escaped, between the text around it."""
    html = str(render("Before <script>alert('pwned')</script> after"))

    assert "script" not in live_markup(html).tags
    assert "Before &lt;script&gt;alert(" in html
    assert "&lt;/script&gt; after" in html


@pytest.mark.parametrize("render", RENDERERS)
def test_a_link_made_harmless_keeps_its_text(render):
    html = str(render("[click me](javascript:alert(1))"))

    assert "click me" in html
    assert "href" not in html


@pytest.mark.parametrize("render", RENDERERS)
def test_ordinary_markdown_renders(render):
    source = (
        "**Bold** and *em* and [docs](https://example.com/runbook).\n"
        "\n"
        "- one\n"
        "- two\n"
        "\n"
        "1. first\n"
        "2. second\n"
        "\n"
        "Inline `kubectl rollout undo`.\n"
        "\n"
        "```python\n"
        "print('<b>not markup</b>')\n"
        "```\n"
        "\n"
        "| Service | Status |\n"
        "|---|:---:|\n"
        "| api | down |\n"
        "\n"
        "> quoted\n"
        "\n"
        "## Heading\n"
    )

    html = str(render(source))

    assert "<strong>Bold</strong>" in html
    assert "<em>em</em>" in html
    assert re.search(r'<a href="https://example.com/runbook"[^>]*>docs</a>', html)
    assert '<ul>\n<li>one</li>\n<li>two</li>\n</ul>' in html
    assert "<ol>" in html
    assert "<code>kubectl rollout undo</code>" in html
    assert '<pre><code class="language-python">' in html
    # Code is shown, not interpreted.
    assert "&lt;b&gt;not markup&lt;/b&gt;" in html
    assert "<table>" in html
    assert "<th>Service</th>" in html
    assert "<td>api</td>" in html
    assert "<blockquote>" in html
    assert "<h2>Heading</h2>" in html


@pytest.mark.parametrize("render", RENDERERS)
def test_links_do_not_leak_the_opener_or_referrer(render):
    html = str(render("[status page](https://status.example.com)"))

    assert 'rel="noopener noreferrer nofollow"' in html


@pytest.mark.parametrize("render", RENDERERS)
def test_mailto_and_http_links_are_kept(render):
    html = str(render("[mail](mailto:oncall@example.com) [plain](http://example.com)"))

    assert 'href="mailto:oncall@example.com"' in html
    assert 'href="http://example.com"' in html


def test_render_markdown_returns_safe_html():
    assert isinstance(render_markdown("hi"), SafeString)


@pytest.mark.parametrize("text", ["", None])
def test_empty_text_renders_nothing(text):
    assert str(render_markdown(text)) == ""


def test_template_filter_output_is_not_escaped_twice():
    assert render_filter("**bold** & <b>").startswith("<p><strong>bold</strong> &amp;")
