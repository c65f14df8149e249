"""Settings → Members: admins invite, change roles and remove; others get 403."""

from __future__ import annotations

import pytest
from django.core import mail

from orgs.models import Invitation, Membership, Role
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _membership(org, user):
    return Membership.objects.get(org=org, user=user)


@pytest.mark.parametrize("role_user", ["responder", "viewer"])
def test_members_settings_are_for_admins_only(role_user, request, acme, signed_in):
    user = request.getfixturevalue(role_user)
    client = signed_in(user, acme)
    assert client.get("/acme/settings/members/").status_code == 403
    assert client.get("/acme/settings/").status_code == 403
    assert client.post("/acme/settings/members/", {"email": "x@y.test", "role": "viewer"}).status_code == 403
    assert not Invitation.objects.exists()


def test_admin_sees_members_and_pending_invitations(admin, responder, acme, signed_in):
    client = signed_in(admin, acme)
    page = client.get("/acme/settings/members/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "admin@acme.test" in html and "responder@acme.test" in html


def test_members_page_query_count_does_not_grow_with_members(admin, acme, signed_in, django_assert_max_num_queries):
    client = signed_in(admin, acme)
    client.get("/acme/settings/members/")
    for _ in range(20):
        MembershipFactory(org=acme)
    with django_assert_max_num_queries(10):
        assert client.get("/acme/settings/members/").status_code == 200


def test_admin_invites_by_email(admin, acme, signed_in, django_capture_on_commit_callbacks):
    client = signed_in(admin, acme)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/acme/settings/members/", {"email": "New.Person@Example.com", "role": "responder"})
    assert response.status_code == 302
    invitation = Invitation.objects.get(org=acme)
    assert invitation.email == "new.person@example.com"
    assert invitation.role == Role.RESPONDER
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.person@example.com"]
    assert "/invitations/" in mail.outbox[0].body
    assert "Acme Inc." in mail.outbox[0].subject


def test_rolled_back_invitation_sends_no_email(admin, acme):
    from django.db import transaction

    from orgs import services

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            services.invitation_create(actor=_membership(acme, admin), email="a@b.test", role="viewer")
            raise RuntimeError("boom")
    assert mail.outbox == []
    assert not Invitation.objects.exists()


def test_inviting_an_existing_member_is_a_clear_error(admin, responder, acme, signed_in):
    client = signed_in(admin, acme)
    response = client.post("/acme/settings/members/", {"email": responder.email, "role": "viewer"})
    assert response.status_code == 400
    assert "already a member" in response.content.decode()
    assert not Invitation.objects.exists()


def test_invite_with_bad_input_changes_nothing(admin, acme, signed_in):
    client = signed_in(admin, acme)
    for data in ({"email": "not-an-email", "role": "viewer"}, {"email": "a@b.test", "role": "emperor"}, {}):
        response = client.post("/acme/settings/members/", data)
        assert response.status_code == 400
    assert not Invitation.objects.exists()


def test_admin_changes_a_role(admin, responder, acme, signed_in):
    client = signed_in(admin, acme)
    member = _membership(acme, responder)
    response = client.post(f"/acme/settings/members/{member.public_id}/role/", {"role": "viewer"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.role == Role.VIEWER


def test_admin_cannot_make_an_owner_or_touch_one(admin, owner, responder, acme, signed_in):
    client = signed_in(admin, acme)
    client.post(f"/acme/settings/members/{_membership(acme, responder).public_id}/role/", {"role": "owner"})
    client.post(f"/acme/settings/members/{_membership(acme, owner).public_id}/remove/")
    assert _membership(acme, responder).role == Role.RESPONDER
    assert _membership(acme, owner).role == Role.OWNER


def test_last_owner_cannot_be_demoted_or_removed(owner, acme, signed_in):
    client = signed_in(owner, acme)
    member = _membership(acme, owner)
    response = client.post(f"/acme/settings/members/{member.public_id}/role/", {"role": "admin"}, follow=True)
    assert "at least one owner" in response.content.decode()
    member.refresh_from_db()
    assert member.role == Role.OWNER


def test_owner_can_hand_over_ownership(owner, admin, acme, signed_in):
    client = signed_in(owner, acme)
    client.post(f"/acme/settings/members/{_membership(acme, admin).public_id}/role/", {"role": "owner"})
    client.post(f"/acme/settings/members/{_membership(acme, owner).public_id}/role/", {"role": "admin"})
    assert _membership(acme, admin).role == Role.OWNER
    assert _membership(acme, owner).role == Role.ADMIN


def test_removed_member_is_gone_and_locked_out(admin, responder, acme, signed_in):
    responder_client = signed_in(responder, acme)
    client = signed_in(admin, acme)
    response = client.post(f"/acme/settings/members/{_membership(acme, responder).public_id}/remove/")
    assert response.status_code == 302
    assert not Membership.objects.filter(org=acme, user=responder).exists()
    assert responder_client.get("/acme/").status_code == 404


def test_another_orgs_membership_through_my_org_urls_is_404(admin, acme, outsider, globex, signed_in):
    client = signed_in(admin, acme)
    theirs = _membership(globex, outsider)
    assert client.post(f"/acme/settings/members/{theirs.public_id}/role/", {"role": "viewer"}).status_code == 404
    assert client.post(f"/acme/settings/members/{theirs.public_id}/remove/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.role == Role.OWNER


def test_another_orgs_invitation_through_my_org_urls_is_404(admin, acme, outsider, globex, signed_in):
    from orgs import services

    invitation, _ = services.invitation_create(actor=_membership(globex, outsider), email="z@z.test", role="viewer")
    client = signed_in(admin, acme)
    assert client.post(f"/acme/settings/invitations/{invitation.public_id}/revoke/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.is_pending


def test_unknown_ids_are_404(admin, acme, signed_in):
    client = signed_in(admin, acme)
    assert client.post("/acme/settings/members/00000000-0000-0000-0000-000000000000/remove/").status_code == 404
    assert client.post("/acme/settings/members/not-a-uuid/remove/").status_code == 404


def test_wrong_method_is_405(admin, responder, acme, signed_in):
    client = signed_in(admin, acme)
    member = _membership(acme, responder)
    assert client.get(f"/acme/settings/members/{member.public_id}/remove/").status_code == 405
    assert client.get(f"/acme/settings/members/{member.public_id}/role/").status_code == 405
    assert client.get("/acme/sign-out/").status_code == 405
    assert client.put("/acme/settings/members/").status_code == 405


def test_admin_withdraws_an_invitation(admin, acme, signed_in):
    from orgs import services

    invitation, _ = services.invitation_create(actor=_membership(acme, admin), email="z@z.test", role="viewer")
    client = signed_in(admin, acme)
    client.post(f"/acme/settings/invitations/{invitation.public_id}/revoke/")
    invitation.refresh_from_db()
    assert not invitation.is_pending


def test_admin_renames_the_org_and_empty_name_is_refused(admin, acme, signed_in):
    client = signed_in(admin, acme)
    assert client.post("/acme/settings/", {"name": "   "}).status_code == 400
    acme.refresh_from_db()
    assert acme.name == "Acme Inc."
    assert client.post("/acme/settings/", {"name": "Acme Corp"}).status_code == 302
    acme.refresh_from_db()
    assert acme.name == "Acme Corp"
