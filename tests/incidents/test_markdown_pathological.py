"""Markdown renders in linear time, whatever people type (issue #22).

The inputs are the CommonMark pathological cases, 100 KB each: Python-Markdown
took 10 s on 10,000 ``[`` and grew with the square of the length, so one
stored summary made every view of its incident page that slow. The bound is
CPU time (not wall time, so other processes on a shared CI core do not count)
and generous (five times the slowest case here), so a slow CI core never
flakes: on the development machine the slowest case, ``[`` × 100,000,
takes about 0.9 s and most take under 0.2 s.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest

from incidentio.common import limits
from incidentio.common import markdown as markdown_module
from incidentio.common.actors import Actor
from incidentio.common.markdown import render_markdown
from incidentio.incidents.models import Postmortem
from incidentio.incidents.services import documents
from incidentio.incidents.services.incidents import incident_declare

SIZE = 100_000
BOUND_SECONDS = 5.0  # the old parser: 97 s for 100 KB of "[a](", over 240 s for "["


def _repeat(unit: str) -> str:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


def _backtick_runs() -> str:
    """Code spans whose opening and closing runs never match: `a``a```a…"""
    text, length = "", 1
    while len(text) < SIZE:
        text += "`" * length + "a"
        length = length % 400 + 1
    return text[:SIZE]


def _nested_lists() -> str:
    """Each item one level deeper than the last, again and again."""
    block = "".join("  " * depth + "- a\n" for depth in range(100))
    return _repeat(block)


def _reference_definitions() -> str:
    half = SIZE // 2
    definitions = "".join(f"[ref{i}]: https://example.com/{i}\n" for i in range(half // 30))
    uses = "".join(f"[ref{i}] " for i in range(half // 8))
    return (definitions + "\n" + uses)[:SIZE]


PATHOLOGICAL = [
    pytest.param(_repeat("["), id="open-brackets"),
    pytest.param("[" * (SIZE // 2) + "]" * (SIZE // 2), id="nested-brackets"),
    pytest.param(_repeat("[a]("), id="unclosed-links"),
    pytest.param(_repeat("*a **a "), id="emphasis-runs"),
    pytest.param(_repeat("_"), id="underscores"),
    pytest.param(_repeat("_a __a "), id="underscore-emphasis-runs"),
    pytest.param(_backtick_runs(), id="backtick-runs"),
    pytest.param(_nested_lists(), id="nested-list-indentation"),
    pytest.param(_repeat("- "), id="nested-list-markers"),
    pytest.param(_repeat(">"), id="nested-blockquotes"),
    pytest.param(_reference_definitions(), id="link-reference-definitions"),
    pytest.param(_repeat("<"), id="less-thans"),
    pytest.param(_repeat("<a "), id="unclosed-tags"),
    pytest.param(_repeat("![[]()"), id="image-brackets"),
]


@contextmanager
def cpu_time_bound(seconds: float = BOUND_SECONDS):
    start = time.process_time()
    yield
    spent = time.process_time() - start
    assert spent < seconds, f"took {spent:.2f} s of CPU (bound {seconds} s)"


@pytest.mark.parametrize("text", PATHOLOGICAL)
def test_pathological_markdown_renders_in_linear_time(text):
    assert len(text) == SIZE
    with cpu_time_bound():
        html = render_markdown(text)
    assert html  # it rendered something, as text


# --- Through the pages that render what people wrote ---------------------------------------------


@pytest.fixture
def as_responder(responder, acme, signed_in):
    return signed_in(responder, acme)


@pytest.mark.django_db
def test_postmortem_preview_of_100_kb_of_brackets_is_fast(as_responder, acme, responder):
    incident = incident_declare(org=acme, actor=Actor.for_user(responder), name="Brackets")
    url = f"/{acme.slug}/incidents/{incident.public_id}/postmortem/"

    with cpu_time_bound():
        response = as_responder.post(url, {"content": _repeat("["), "action": "preview"})

    assert response.status_code == 200
    preview = response.content.decode().split('data-testid="postmortem-preview"', 1)[1]
    assert "[" * 1000 in preview
    assert not Postmortem.objects.filter(incident=incident).exists()


@pytest.mark.django_db
def test_incident_page_with_the_longest_summary_of_brackets_is_fast(as_responder, acme, responder):
    summary = "[" * limits.INCIDENT_SUMMARY
    incident = incident_declare(org=acme, actor=Actor.for_user(responder), name="Brackets", summary=summary)
    markdown_module._render_cached.cache_clear()  # the first view renders it, as after a deploy

    with cpu_time_bound():
        response = as_responder.get(f"/{acme.slug}/incidents/{incident.public_id}/")

    assert response.status_code == 200
    assert "[" * 1000 in response.content.decode()


@pytest.mark.django_db
def test_postmortem_preview_over_the_limit_is_refused_not_rendered(as_responder, acme, responder):
    incident = incident_declare(org=acme, actor=Actor.for_user(responder), name="Too long")
    documents.postmortem_create(incident=incident, actor=Actor.for_user(responder), content="Saved text")
    url = f"/{acme.slug}/incidents/{incident.public_id}/postmortem/"

    response = as_responder.post(url, {"content": "[" * (limits.POSTMORTEM + 1), "action": "preview"})

    assert response.status_code == 400
    html = response.content.decode()
    assert f"at most {limits.POSTMORTEM}" in html
    preview = html.split('data-testid="postmortem-preview"', 1)[1].split("</div>", 1)[0]
    assert "[" not in preview
    assert Postmortem.objects.get(incident=incident).content == "Saved text"
