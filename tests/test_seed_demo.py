import pytest
from django.core.management import call_command
from django.test import Client

from orgs.models import Membership, Organization, User
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_its_people_can_sign_in():
    call_command("seed_demo")
    call_command("seed_demo")

    assert set(Organization.objects.values_list("slug", flat=True)) == {"acme", "globex"}
    assert User.objects.count() == 2
    alice = User.objects.get(email="alice@example.com")
    bob = User.objects.get(email="bob@example.com")
    assert set(Membership.objects.filter(user=alice).values_list("org__slug", flat=True)) == {"acme", "globex"}
    assert set(Membership.objects.filter(user=bob).values_list("org__slug", flat=True)) == {"globex"}

    client = Client()
    sign_in(client, alice, "acme", password="incidentio-demo")
    assert client.get("/acme/").status_code == 200
