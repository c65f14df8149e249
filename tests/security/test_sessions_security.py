"""Session safety beyond tests/orgs/test_sessions.py (issue 8).

Already proven there, not repeated here: sign-in rotates the session key and
CSRF token, signing out of one org keeps the others, a password change ends the
user's other sessions, the sixth failed sign-in for one e-mail is refused, and
/admin/login/ sends staff to allauth's page.

Added here: a replayed pre-sign-out cookie can neither read nor write in the
org signed out of; the real Set-Cookie headers under production settings;
Django admin sign-in hits the same per-e-mail throttle.
"""

from __future__ import annotations

import json
from http.cookies import SimpleCookie

import pytest
from django.conf import settings as django_settings
from django.test import Client

from orgs.models import Organization
from tests.conftest import sign_in
from tests.test_settings import PRODUCTION_LIKE, manage

pytestmark = pytest.mark.django_db


def test_replayed_cookie_after_org_sign_out_can_neither_read_nor_write_that_org(owner, outsider, acme, globex):
    client = Client()
    sign_in(client, owner, "acme")
    sign_in(client, outsider, "globex")
    stolen = client.cookies[django_settings.SESSION_COOKIE_NAME].value

    assert client.post("/globex/sign-out/").status_code == 302

    replay = Client()
    replay.cookies[django_settings.SESSION_COOKIE_NAME] = stolen
    for url in ("/globex/", "/globex/settings/", "/globex/settings/members/", "/globex/incidents/"):
        response = replay.get(url)
        assert response.status_code == 302 and response.url.startswith("/accounts/login/"), url
    response = replay.post("/globex/settings/", {"name": "Taken over"})
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    globex.refresh_from_db()
    assert globex.name == "Globex Corporation"
    # The browser that signed out keeps its other org, as the same identity.
    page = client.get("/acme/")
    assert page.status_code == 200 and page.context["request"].user == owner


def _production_cookie_settings() -> dict:
    """The cookie settings incidentio/config/settings.py chooses with DEBUG off, read from a real start."""
    names = ["SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
             "CSRF_COOKIE_SECURE", "CSRF_COOKIE_HTTPONLY", "CSRF_COOKIE_SAMESITE"]
    code = f"import json; from django.conf import settings as s; print(json.dumps({{n: getattr(s, n) for n in {names!r}}}))"
    result = manage("shell", "-c", code, **PRODUCTION_LIKE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_set_cookie_headers_are_secure_httponly_and_samesite(settings, owner, acme):
    production = _production_cookie_settings()
    assert production["SESSION_COOKIE_SECURE"] and production["CSRF_COOKIE_SECURE"]
    for name, value in production.items():
        setattr(settings, name, value)

    client = Client()
    client.get("/accounts/login/")  # the CSRF cookie
    response = sign_in(client, owner, "acme")

    headers = [value for key, value in response.items() if key.lower() == "set-cookie"]
    headers += [str(morsel) for morsel in response.cookies.values()]
    cookies = SimpleCookie()
    for morsel in response.cookies.values():
        cookies[morsel.key] = morsel
    session = cookies[django_settings.SESSION_COOKIE_NAME]
    csrf = cookies[django_settings.CSRF_COOKIE_NAME]
    session_header = session.OutputString()
    assert "Secure" in session_header and "HttpOnly" in session_header
    assert "SameSite=Lax" in session_header
    csrf_header = csrf.OutputString()
    assert "Secure" in csrf_header and "SameSite=Lax" in csrf_header


def test_django_admin_sign_in_is_throttled_per_email(owner, acme):
    owner.is_staff = owner.is_superuser = True
    owner.save()
    client = Client()
    entry = client.get("/admin/")
    assert entry.status_code == 302
    login = "/accounts/login/?next=/admin/"
    for _ in range(5):
        response = client.post(login, {"login": owner.email, "password": "wrong", "next": "/admin/"})
        assert response.status_code == 200
    # The sixth, even with the right password, is refused: no way into the admin.
    response = client.post(login, {"login": owner.email, "password": "correct-horse-battery", "next": "/admin/"})
    assert "Too many failed sign-ins for this e-mail" in response.content.decode()
    admin_page = client.get("/admin/")
    assert admin_page.status_code == 302 and "/login/" in admin_page.url
    assert Organization.objects.count() == 1  # nothing else happened on the way


def _failed_sign_ins_then_owner(owner, *, failing_from: dict, owner_from: dict):
    """Ten failed sign-ins (ten unknown e-mails: the per-address limit, not the
    per-e-mail one) with ``failing_from``'s headers, then the owner's right
    password with ``owner_from``'s; the owner's browser and answer."""
    client = Client()
    for n in range(10):
        response = client.post("/accounts/login/", {"login": f"guess{n}@example.com", "password": "wrong"},
                               **failing_from)
        assert "do not match an account" in response.content.decode()
    browser = Client()
    return browser, browser.post("/accounts/login/", {"login": owner.email, "password": "correct-horse-battery"},
                                 **owner_from)


def test_behind_a_proxy_one_address_failing_sign_ins_does_not_lock_out_the_next_person(settings, owner, acme):
    # Everyone reaches gunicorn from the proxy's address (the test client's
    # 127.0.0.1); the proxy appends each person's own to X-Forwarded-For.
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    browser, answer = _failed_sign_ins_then_owner(owner, failing_from={"HTTP_X_FORWARDED_FOR": "203.0.113.7"},
                                                  owner_from={"HTTP_X_FORWARDED_FOR": "198.51.100.9"})
    assert answer.status_code == 302
    assert browser.get(f"/{acme.slug}/").status_code == 200
    # The guessing address itself is still held to the limit, right password or not.
    refused = Client().post("/accounts/login/", {"login": owner.email, "password": "correct-horse-battery"},
                            HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert "Too many failed sign-ins for this e-mail or from your network" in refused.content.decode()


def test_without_trusted_proxies_a_forwarded_for_header_cannot_dodge_the_address_limit(owner, acme):
    # The default (clients reach gunicorn directly): X-Forwarded-For is the
    # client's own say, so it is not read, and the connection's address counts.
    browser, answer = _failed_sign_ins_then_owner(owner, failing_from={"HTTP_X_FORWARDED_FOR": "203.0.113.7"},
                                                  owner_from={"HTTP_X_FORWARDED_FOR": "198.51.100.9"})
    assert "Too many failed sign-ins for this e-mail or from your network" in answer.content.decode()
    assert browser.get(f"/{acme.slug}/").status_code == 302  # not signed in
