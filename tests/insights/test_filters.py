"""What an Insights view covers: the range presets, a custom range in the
org's time zone, and the org's own types and severities — anything else refused by name."""

from datetime import UTC, date, datetime

import pytest
from django.http import QueryDict

from incidentio.incidents.models import IncidentType, Severity
from insights.filters import InsightFilterError, insight_filters_parse

TODAY = date(2026, 12, 6)


def parse(org, query: str, **kwargs):
    return insight_filters_parse(org, QueryDict(query), today=TODAY, **kwargs)


def test_by_default_the_last_90_days_up_to_today_in_the_orgs_time_zone(acme):
    acme.time_zone = "America/New_York"
    filters = parse(acme, "")
    assert (filters.preset, filters.period.first, filters.period.last) == ("90d", date(2026, 9, 8), TODAY)
    assert filters.period.end == datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    assert filters.query_params() == [("range", "90d")]


@pytest.mark.parametrize(("preset", "first"), [("30d", date(2026, 11, 7)), ("365d", date(2025, 12, 7))])
def test_the_other_presets(acme, preset, first):
    assert parse(acme, f"range={preset}").period.first == first


def test_a_custom_range_wins_over_the_preset_and_round_trips(acme):
    filters = parse(acme, "range=30d&from=2026-10-01&to=2026-10-31")
    assert (filters.preset, filters.period.first, filters.period.last) == ("", date(2026, 10, 1), date(2026, 10, 31))
    assert filters.query_params() == [("from", "2026-10-01"), ("to", "2026-10-31")]


def test_types_and_severities_of_the_org_are_taken_repeated_or_comma_separated(acme):
    types = list(IncidentType.objects.filter(org=acme))
    severities = list(Severity.objects.filter(org=acme).order_by("rank"))[:2]
    filters = parse(acme, f"incident_type={types[0].public_id}&severity={severities[0].public_id},{severities[1].public_id}")
    assert filters.incident_types == (types[0],)
    assert set(filters.severities) == set(severities)
    assert ("incident_type", str(types[0].public_id)) in filters.link_params()
    assert ("category", "declined") not in filters.link_params()
    assert ("category", "closed") in filters.link_params()


@pytest.mark.parametrize(("query", "param"), [
    ("range=7d", "range"),
    ("from=2026-10-01", "to"),
    ("to=2026-10-01", "from"),
    ("from=2026-10-31&to=2026-10-01", "from"),
    ("from=yesterday&to=2026-10-01", "from"),
    ("from=2020-01-01&to=2026-10-01", "to"),
    ("incident_type=not-a-uuid", "incident_type"),
    ("severity=00000000-0000-0000-0000-000000000000", "severity"),
])
def test_bad_filters_are_refused_naming_the_parameter(acme, query, param):
    with pytest.raises(InsightFilterError) as refused:
        parse(acme, query)
    assert refused.value.param == param
    assert refused.value.message


def test_another_orgs_type_is_unknown_here(acme, globex):
    theirs = IncidentType.objects.filter(org=globex).first()
    with pytest.raises(InsightFilterError, match="Unknown incident type in this organization"):
        parse(acme, f"incident_type={theirs.public_id}")


def test_the_api_names_its_parameters_with_their_operator(acme):
    severity = Severity.objects.filter(org=acme).first()
    filters = parse(acme, f"severity[one_of]={severity.public_id}", severity_param="severity[one_of]")
    assert filters.severities == (severity,)
