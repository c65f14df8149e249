"""Claiming e-mail domains (docs/sso.md): a real domain, one org per domain,
never a public mail provider, and only by an owner with a verified address
there (there is no DNS check: this is what stops claiming someone else's)."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress

from orgs.sso.models import ClaimedDomain
from tests.form_errors import error_next_to

pytestmark = pytest.mark.django_db


def claim(client, domain):
    return client.post("/acme/settings/sso/", {"action": "claim_domain", "domain": domain}, follow=True)


def test_the_owner_claims_the_domain_of_their_verified_address(acme, owner, signed_in):
    response = claim(signed_in(owner, acme), "  ACME.test ")

    assert response.redirect_chain == [("/acme/settings/sso/#domains", 302)]
    assert list(ClaimedDomain.objects.values_list("org__slug", "domain")) == [("acme", "acme.test")]
    assert "<code>acme.test</code>" in response.content.decode()


@pytest.mark.parametrize(("typed", "expected"), [
    ("gmail.com", "gmail.com is a public mail provider: anyone can have an address there, so no organization "
                  "can claim it."),
    ("proton.me", "proton.me is a public mail provider"),
    ("not a domain", "“not a domain” is not a domain name. Enter just the domain, e.g. example.com."),
    ("localhost", "“localhost” is not a domain name."),
    ("-acme.test", "“-acme.test” is not a domain name."),
    ("owner@acme.test", "“owner@acme.test” is not a domain name."),
    ("other.test", "To claim other.test, you need a verified e-mail address at other.test on your account"),
])
def test_a_domain_that_may_not_be_claimed_is_refused(acme, owner, signed_in, typed, expected):
    response = claim(signed_in(owner, acme), typed)

    assert response.status_code == 400
    assert expected in error_next_to(response.content.decode(), "id_domain")
    assert not ClaimedDomain.objects.exists()


def test_an_unverified_address_at_the_domain_is_not_enough(acme, owner, signed_in):
    EmailAddress.objects.create(user=owner, email="owner@newco.test", verified=False)

    response = claim(signed_in(owner, acme), "newco.test")

    assert response.status_code == 400 and not ClaimedDomain.objects.exists()


def test_a_domain_another_org_claims_is_refused_without_naming_it(acme, owner, globex, signed_in):
    ClaimedDomain.objects.create(org=globex, domain="acme.test")

    response = claim(signed_in(owner, acme), "acme.test")

    page = response.content.decode()
    assert error_next_to(page, "id_domain") == "acme.test is already claimed by another organization."
    assert "Globex" not in page and "globex" not in page
    assert list(ClaimedDomain.objects.values_list("org__slug", flat=True)) == ["globex"]


def test_removing_a_claim_and_another_orgs_claim_is_404(acme, owner, globex, signed_in):
    client = signed_in(owner, acme)
    claim(client, "acme.test")
    ClaimedDomain.objects.create(org=globex, domain="globex.test")

    assert client.post("/acme/settings/sso/", {"action": "unclaim_domain", "domain": "globex.test"}).status_code \
        == 404
    response = client.post("/acme/settings/sso/", {"action": "unclaim_domain", "domain": "acme.test"})

    assert response.status_code == 302
    assert list(ClaimedDomain.objects.values_list("domain", flat=True)) == ["globex.test"]
