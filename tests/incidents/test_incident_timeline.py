"""The incident page's timeline (templates/incidents/_timeline.html): the
newest events, an honest link to the earlier ones, what each event shows, and
its cached fragment (views.incidents.timeline_fragment), which a new or
changed event on this incident replaces and one on another incident does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.models import ActorKind, EventKind, TimelineEvent
from incidentio.incidents.selectors import TIMELINE_PAGE_EVENTS
from incidentio.incidents.services.incidents import incident_declare, incident_post_update
from orgs.time_zones import COOKIE_NAME
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def as_responder(responder, acme, signed_in):
    return signed_in(responder, acme)


@pytest.fixture
def incident(acme, responder):
    return incident_declare(org=acme, actor=Actor.for_user(responder), name="Checkout is down")


def _url(incident, query="") -> str:
    return f"/{incident.org.slug}/incidents/{incident.public_id}/{query}"


def _add_events(incident, count, **fields):
    """``count`` system events a minute apart after the declaration, numbered in their text."""
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=incident,
            kind=EventKind.STATUS_CHANGED,
            occurred_at=incident.reported_at + timedelta(minutes=i + 1),
            actor_kind=ActorKind.SYSTEM,
            text=f"Event number {i}.",
            **fields,
        )
        for i in range(count)
    )


def _timeline(response) -> str:
    html = response.content.decode()
    start = html.index('data-testid="timeline"')
    return html[start : html.index("</ol>", start)]


def test_a_short_timeline_is_shown_whole_without_a_link(as_responder, incident):
    _add_events(incident, 3)
    response = as_responder.get(_url(incident))
    html = response.content.decode()
    assert _timeline(response).count('<li class="event') == 4  # declared + 3
    assert 'data-testid="timeline-show-all"' not in html and 'data-testid="timeline-earlier"' not in html


def test_a_long_timeline_shows_the_newest_events_and_says_how_many_are_earlier(as_responder, incident):
    _add_events(incident, TIMELINE_PAGE_EVENTS + 10)  # + the declaration: 11 earlier
    response = as_responder.get(_url(incident))
    timeline = _timeline(response)
    html = response.content.decode()

    assert timeline.count('<li class="event') == TIMELINE_PAGE_EVENTS
    newest = f"Event number {TIMELINE_PAGE_EVENTS + 9}."
    oldest_shown = "Event number 10."
    assert timeline.index(newest) < timeline.index(oldest_shown)  # newest first
    assert "Event number 9." not in timeline and "kind-declared" not in timeline
    assert f"Showing the newest {TIMELINE_PAGE_EVENTS} events." in html
    assert '<a href="?timeline=all#timeline" data-testid="timeline-show-all">Show 11 earlier events</a>' in html


def test_the_link_shows_every_event(as_responder, incident):
    _add_events(incident, TIMELINE_PAGE_EVENTS + 10)
    page = as_responder.get(_url(incident))
    link = 'href="?timeline=all#timeline"'
    assert link in page.content.decode()

    response = as_responder.get(_url(incident, "?timeline=all"))
    assert response.status_code == 200
    timeline = _timeline(response)
    assert timeline.count('<li class="event') == TIMELINE_PAGE_EVENTS + 11
    assert "Event number 0." in timeline and "kind-declared" in timeline
    assert 'data-testid="timeline-show-all"' not in response.content.decode()


def test_one_earlier_event_is_singular(as_responder, incident):
    _add_events(incident, TIMELINE_PAGE_EVENTS)  # + the declaration
    html = as_responder.get(_url(incident)).content.decode()
    assert ">Show 1 earlier event</a>" in html


def test_an_event_renders_its_kind_actor_time_and_slack_link(as_responder, incident, responder):
    TimelineEvent.objects.create(
        incident=incident,
        kind=EventKind.STATUS_CHANGED,
        occurred_at=datetime(2024, 3, 7, 14, 5, 9, tzinfo=UTC),
        actor_kind=ActorKind.USER,
        actor_user=responder,
        text="Status changed from Investigating to Fixing",
        slack_permalink="https://acme.slack.com/archives/C1/p1",
    )
    timeline = _timeline(as_responder.get(_url(incident)))
    assert (
        '<li class="event kind-status_changed"><div class="event-meta"><strong>Status changed</strong>'
        f" · {escape(responder.display_name)} · "
        '<time datetime="2024-03-07T14:05:09+00:00">7 Mar, 14:05 UTC</time>'
        ' · <a href="https://acme.slack.com/archives/C1/p1">Slack message →</a></div>'
        '<div class="event-text">Status changed from Investigating to Fixing</div></li>'
    ) in timeline


def test_event_times_are_shown_in_the_viewers_time_zone(as_responder, incident):
    as_responder.cookies[COOKIE_NAME] = "America/New_York"  # what static/js/timezone.js sets
    _add_events(incident, 2)
    TimelineEvent.objects.create(incident=incident, kind=EventKind.UPDATE_POSTED, actor_kind=ActorKind.SYSTEM,
                                 occurred_at=datetime(2024, 3, 7, 14, 5, 9, tzinfo=UTC), text="Winter")
    TimelineEvent.objects.create(incident=incident, kind=EventKind.UPDATE_POSTED, actor_kind=ActorKind.SYSTEM,
                                 occurred_at=datetime(2024, 7, 1, 3, 30, tzinfo=UTC), text="Summer")

    timeline = _timeline(as_responder.get(_url(incident)))

    assert '<time datetime="2024-03-07T09:05:09-05:00">7 Mar, 09:05 EST</time>' in timeline
    assert '<time datetime="2024-06-30T23:30:00-04:00">30 Jun, 23:30 EDT</time>' in timeline  # the day before


def test_event_text_and_actor_labels_are_escaped(as_responder, incident):
    TimelineEvent.objects.create(
        incident=incident,
        kind=EventKind.RENAMED,
        occurred_at=START + timedelta(days=1),
        actor_kind=ActorKind.SLACK_USER,
        actor_label="<b>mallory</b>",
        text='Renamed to "<script>alert(1)</script>"',
        slack_permalink='https://x.test/"onmouseover="alert(1)',
    )
    timeline = _timeline(as_responder.get(_url(incident)))
    assert "<script>" not in timeline and "<b>mallory</b>" not in timeline
    assert "&lt;b&gt;mallory&lt;/b&gt;" in timeline
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in timeline
    assert 'href="https://x.test/&quot;onmouseover=&quot;alert(1)"' in timeline


def test_updates_render_as_sanitized_markdown(as_responder, incident):
    TimelineEvent.objects.create(
        incident=incident,
        kind=EventKind.UPDATE_POSTED,
        occurred_at=START + timedelta(days=1),
        actor_kind=ActorKind.SYSTEM,
        text="**Rolled back** <script>alert('x')</script>",
    )
    timeline = _timeline(as_responder.get(_url(incident)))
    assert '<div class="prose"><p><strong>Rolled back</strong>' in timeline
    assert "<script>" not in timeline


def test_an_actor_who_left_the_org_is_still_named(as_responder, incident):
    former = UserFactory(email="former@elsewhere.test", name="Fran Former")  # no membership here
    TimelineEvent.objects.create(
        incident=incident,
        kind=EventKind.UPDATE_POSTED,
        occurred_at=START + timedelta(days=1),
        actor_kind=ActorKind.USER,
        actor_user=former,
        text="Handing over.",
    )
    assert " · Fran Former · " in _timeline(as_responder.get(_url(incident)))


def test_the_timeline_needs_the_same_queries_for_few_and_many_events(
    as_responder, acme, responder, django_assert_max_num_queries
):
    small = incident_declare(org=acme, actor=Actor.for_user(responder), name="Small")
    _add_events(small, 2)
    big = incident_declare(org=acme, actor=Actor.for_user(responder), name="Big")
    _add_events(big, 3 * TIMELINE_PAGE_EVENTS)
    with django_assert_max_num_queries(40) as few:
        assert as_responder.get(_url(small, "?timeline=all")).status_code == 200
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert as_responder.get(_url(big)).status_code == 200
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert as_responder.get(_url(big, "?timeline=all")).status_code == 200


# --- The cached fragment ---------------------------------------------------------------------------


def _timeline_and_queries(client, url, django_assert_max_num_queries) -> tuple[str, int]:
    """The page's timeline and how many queries the page ran (a cached timeline
    saves its two queries; the hot reads are prepared statements, whose SQL
    text does not name the table)."""
    with django_assert_max_num_queries(40) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return _timeline(response), len(captured.captured_queries)


def test_a_new_event_shows_on_the_next_view_of_a_cached_timeline(
    as_responder, incident, responder, django_assert_max_num_queries
):
    first, _ = _timeline_and_queries(as_responder, _url(incident), django_assert_max_num_queries)
    again, warm = _timeline_and_queries(as_responder, _url(incident), django_assert_max_num_queries)
    assert again == first

    response = as_responder.post(_url(incident, "updates/"), {"message": "Rolled back <b>v2</b>"})
    assert response.status_code == 302
    timeline, queries = _timeline_and_queries(as_responder, _url(incident), django_assert_max_num_queries)
    assert queries > warm  # a new key: read, rendered and stored again
    assert timeline.index("Rolled back &lt;b&gt;v2&lt;/b&gt;") < timeline.index("kind-declared")  # newest first


def test_an_event_on_another_incident_leaves_this_timeline_cached(
    as_responder, acme, incident, responder, django_assert_max_num_queries
):
    other = incident_declare(org=acme, actor=Actor.for_user(responder), name="Other")
    _timeline_and_queries(as_responder, _url(incident), django_assert_max_num_queries)
    before, warm = _timeline_and_queries(as_responder, _url(incident), django_assert_max_num_queries)

    incident_post_update(incident=other, actor=Actor.for_user(responder), message="Only about the other one")

    after, queries = _timeline_and_queries(as_responder, _url(incident), django_assert_max_num_queries)
    assert queries == warm and after == before  # the same key, still cached
    assert "Only about the other one" in _timeline(as_responder.get(_url(other)))


def test_a_slack_link_added_to_an_event_shows_on_the_next_view(as_responder, incident, responder):
    incident_post_update(incident=incident, actor=Actor.for_user(responder), message="Posted to Slack")
    assert "Slack message →" not in _timeline(as_responder.get(_url(incident)))

    # What slackbot.transports does once the message is posted: the one update an event gets.
    event = TimelineEvent.objects.get(incident=incident, kind=EventKind.UPDATE_POSTED)
    event.slack_permalink = "https://acme.slack.com/archives/C1/p2"
    event.save(update_fields=["slack_permalink"], allow_update=True)

    assert '<a href="https://acme.slack.com/archives/C1/p2">Slack message →</a>' in _timeline(
        as_responder.get(_url(incident)))


def test_the_whole_timeline_and_the_newest_events_are_cached_apart(as_responder, incident):
    _add_events(incident, TIMELINE_PAGE_EVENTS + 1)
    assert _timeline(as_responder.get(_url(incident))).count('<li class="event') == TIMELINE_PAGE_EVENTS
    assert _timeline(as_responder.get(_url(incident, "?timeline=all"))).count('<li class="event') == (
        TIMELINE_PAGE_EVENTS + 2)
    assert _timeline(as_responder.get(_url(incident))).count('<li class="event') == TIMELINE_PAGE_EVENTS


def test_a_cached_timeline_follows_the_time_zone(as_responder, incident):
    TimelineEvent.objects.create(incident=incident, kind=EventKind.UPDATE_POSTED, actor_kind=ActorKind.SYSTEM,
                                 occurred_at=datetime(2024, 3, 7, 14, 5, 9, tzinfo=UTC), text="Winter")
    assert '<time datetime="2024-03-07T14:05:09+00:00">7 Mar, 14:05 UTC</time>' in _timeline(
        as_responder.get(_url(incident)))

    as_responder.cookies[COOKIE_NAME] = "America/New_York"  # another viewer's zone, the same cache

    assert '<time datetime="2024-03-07T09:05:09-05:00">7 Mar, 09:05 EST</time>' in _timeline(
        as_responder.get(_url(incident)))


def test_without_the_cache_the_timeline_is_rendered_all_the_same(as_responder, incident, settings):
    """Redis down: the page renders its timeline uncached rather than failing."""
    settings.CACHES = {"default": {
        "BACKEND": "incidentio.config.cache.ReusedClientRedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",  # the discard port: nothing answers
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }}
    _add_events(incident, 2)
    response = as_responder.get(_url(incident))
    assert response.status_code == 200
    assert _timeline(response).count('<li class="event') == 3
