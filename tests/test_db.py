"""incidentio/common/db.py: model instances built from the rows of the plain-SQL reads."""

from __future__ import annotations

import pytest

from incidentio.common.db import model_from_json
from orgs.models import User


def test_instances_from_plain_sql_take_values_in_field_order():
    user = model_from_json(User, ("id", "email", "name"), (7, "ada@example.com", "Ada"))
    assert (user.pk, user.email, user.name, user.display_name) == (7, "ada@example.com", "Ada", "Ada")
    with pytest.raises(ValueError, match="field order"):
        model_from_json(User, ("id", "name", "email"), (7, "Ada", "ada@example.com"))
