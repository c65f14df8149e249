import pytest

from tests.insights.incident_rows import NEW_YORK


@pytest.fixture
def org(acme):
    """Acme in New York: its local midnights are not UTC's, and its clocks change on 1 Nov 2026."""
    acme.time_zone = NEW_YORK
    acme.save(update_fields=["time_zone"])
    return acme
