"""Two first sign-ins of one person at the same moment (two tabs, a double
click at the IdP): one account, one membership, one IdP link, and both get in."""

from __future__ import annotations

import threading
import time

import pytest
from allauth.socialaccount.models import SocialAccount
from django.db import connection, transaction

from orgs.models import Membership, User
from orgs.sso import services
from orgs.sso.identity import Identity
from orgs.sso.models import ClaimedDomain, OrgSSO, Protocol
from tests.sso.settings_support import self_signed

ADA = Identity(uid="u-ada", email="ada@acme.test", name="Ada Lovelace")


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_first_sign_in_that_loses_the_race_signs_in_as_the_winners_account(acme):
    org_sso = OrgSSO.objects.create(org=acme, protocol=Protocol.SAML, enabled=True,
                                    saml_idp_entity_id="https://idp.example.test",
                                    saml_idp_sso_url="https://idp.example.test/sso", saml_idp_x509cert=self_signed()[1])
    ClaimedDomain.objects.create(org=acme, domain="acme.test")
    first_wrote, first_may_commit = threading.Event(), threading.Event()
    answers = {}

    def first():
        # The winner: its account, membership and link written, not yet committed.
        try:
            with transaction.atomic():
                answers["first"] = services.membership_for_identity(org_sso, ADA)
                first_wrote.set()
                first_may_commit.wait(10)
        finally:
            connection.close()

    def second():
        # Looks before the winner commits (sees no one), then waits on its rows.
        try:
            answers["second"] = services.membership_for_identity(org_sso, ADA)
        except Exception as exc:  # reported by the assertion below
            answers["second"] = exc
        finally:
            connection.close()

    winner = threading.Thread(target=first)
    winner.start()
    assert first_wrote.wait(10)
    loser = threading.Thread(target=second)
    loser.start()
    deadline = time.monotonic() + 10
    while not _waiting_on_a_lock() and time.monotonic() < deadline:
        time.sleep(0.05)
    first_may_commit.set()
    winner.join(10)
    loser.join(10)

    assert isinstance(answers["second"], Membership), answers["second"]
    assert answers["second"].user_id == answers["first"].user_id
    assert User.objects.filter(email="ada@acme.test").count() == 1
    assert Membership.objects.filter(org=acme, user__email="ada@acme.test").count() == 1
    assert SocialAccount.objects.filter(provider=str(org_sso.public_id), uid="u-ada").count() == 1
