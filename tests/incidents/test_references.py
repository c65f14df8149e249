"""The one rule for reading an incident reference (incidentio/incidents/references.py),
which the dashboard, the API and Slack all use."""

from __future__ import annotations

import pytest

from incidentio.incidents.references import parse_reference


@pytest.mark.parametrize("text, number", [
    ("INC-12", 12), ("inc-12", 12), ("Inc12", 12), ("12", 12), ("  INC-12 ", 12), ("INC-007", 7),
    ("INC-999999999", 999_999_999),
])
def test_a_reference_names_its_number(text, number):
    assert parse_reference(text) == number


@pytest.mark.parametrize("text", [
    "", "INC-", "INC-1234567890", "INC-12x", "INC--12", "IN-12", "INC 12", "INC-0x1f", "INC-1 2", "-12", "+12",
    None, 12,
])
def test_anything_else_is_no_reference(text):
    assert parse_reference(text) is None
