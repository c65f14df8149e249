"""Single sign-on calls no private or internal address (SSRF) unless
``SSO_ALLOW_PRIVATE_ADDRESSES``: the OIDC issuer and the endpoints its
discovery names, and the SAML metadata URL (``incidentio/common/egress.py``,
mounted by ``orgs.sso.adapter.SocialAccountAdapter.get_requests_session``).

tests/sso/conftest.py turns the setting on for the other SSO tests (their
IdPs serve on 127.0.0.1); these turn it off. ``Listener`` is a real HTTP
server on loopback that counts what reaches it: a refused address gets no
connection at all. The only fakes sit at the edge of the process, for the
one test about where a socket really goes: DNS (``socket.getaddrinfo``) and a
network that delivers a public address's packets to loopback.
"""

from __future__ import annotations

import html
import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from orgs import sessions
from orgs.models import Membership
from orgs.sso import saml_metadata
from orgs.sso.models import OrgSSO, Protocol
from orgs.sso.saml_metadata import MetadataError
from tests.sso.fixtures_oidc import idp_answer, oidc_round_trip, oidc_sso_for
from tests.sso.outcomes import snapshot

START = "/account/sso/acme/start/?next=/acme/"
REFUSED = "which single sign-on may not call."
PUBLIC_IP = "93.184.215.14"  # globally routable; the `nat_to_loopback` network never lets a packet reach it


class Listener:
    """An HTTP server on 127.0.0.1 that counts the connections it accepts and
    records the requests it reads (answering each with a small body)."""

    def __init__(self):
        self.connections = 0
        self.requests: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                listener.requests.append(self.path)
                body = b"<answer/>"
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):  # quiet: no request log on the test output
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request, client_address):
                listener.connections += 1
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.stop()


@pytest.fixture
def private_refused(settings):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = False




def page_text(response) -> str:
    return html.unescape(response.content.decode())


# --- OpenID Connect -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("host", "sentence"), [
    ("127.0.0.1", f"127.0.0.1 is a private or internal address, {REFUSED}"),
    ("localhost", "localhost resolves to a private or internal address ("),  # 127.0.0.1 or ::1
])
def test_an_issuer_on_loopback_is_refused_at_sign_in_and_never_called(host, sentence, acme, listener,
                                                                       private_refused):
    OrgSSO.objects.create(org=acme, protocol=Protocol.OIDC, oidc_issuer=f"http://{host}:{listener.port}",
                          oidc_client_id="incidentio", oidc_client_secret="not-shown", enabled=True)
    before = snapshot()
    client = Client()

    response = client.get(START)

    text = page_text(response)
    assert response.status_code == 502, text[:2000]
    assert "Single sign-on did not sign you in" in text
    assert sentence in text and REFUSED in text, text[:3000]
    assert "not-shown" not in text
    assert listener.connections == 0 and listener.requests == []
    assert snapshot() == before
    assert not client.session.get(sessions.ORG_SESSIONS_KEY)


@pytest.mark.django_db
def test_with_private_addresses_allowed_an_idp_on_loopback_signs_in(acme, oidc_idp, settings):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-0001", "ada@acme.test")

    response = oidc_round_trip(Client(), START, oidc_idp)

    assert response.status_code == 302 and response["Location"] == "/acme/"
    assert Membership.objects.filter(org=acme, user__email="ada@acme.test").exists()


@pytest.mark.django_db
def test_the_answer_of_an_idp_on_loopback_is_refused_before_the_code_is_exchanged(acme, oidc_idp, settings):
    # Started while private addresses were allowed; refused from then on: the
    # callback's calls (discovery, token, userinfo, JWKS) go through the same guard.
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    oidc_sso_for(acme, oidc_idp, domains=["acme.test"])
    oidc_idp.sign_in_as("idp-0001", "ada@acme.test")
    client = Client()
    callback = idp_answer(client, START, oidc_idp)
    before = snapshot()
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = False

    response = client.get(callback)

    text = page_text(response)
    assert f"127.0.0.1 is a private or internal address, {REFUSED}" in text, text[:3000]
    assert oidc_idp.token_auth_methods == []  # the code was never sent anywhere
    assert snapshot() == before
    assert not client.session.get(sessions.ORG_SESSIONS_KEY)


# --- SAML metadata --------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_saml_metadata_on_loopback_is_refused_and_never_fetched(host, listener, private_refused):
    with pytest.raises(MetadataError) as refused:
        saml_metadata.fetch(f"http://{host}:{listener.port}/metadata")

    assert str(refused.value).startswith(f"{host} ")
    assert str(refused.value).endswith(REFUSED)
    assert listener.connections == 0


def test_with_private_addresses_allowed_saml_metadata_on_loopback_is_fetched(listener, settings):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True

    assert saml_metadata.fetch(f"http://127.0.0.1:{listener.port}/metadata") == "<answer/>"
    assert listener.requests == ["/metadata"]


# --- Where the socket really goes -----------------------------------------------------------------


@pytest.fixture
def nat_to_loopback(monkeypatch, listener):
    """``idp.example.test`` resolves to a public address, and the network
    delivers connections to that address to the listener on loopback: what a
    name rebound between two look-ups, or a NAT in the way, amounts to. Any
    other non-loopback destination is refused, so no packet leaves this machine."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "idp.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (PUBLIC_IP, int(port)))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    def connect(sock, address):
        if isinstance(address, tuple) and address[0] == PUBLIC_IP:
            return real_connect(sock, ("127.0.0.1", listener.port))
        if isinstance(address, tuple) and not ipaddress.ip_address(address[0]).is_loopback:
            raise ConnectionRefusedError(111, "Connection refused (test network: loopback only)")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


def test_the_address_a_connection_reaches_is_judged_not_only_what_the_name_resolved_to(
        listener, private_refused, nat_to_loopback):
    with pytest.raises(MetadataError) as refused:
        saml_metadata.fetch(f"http://idp.example.test:{listener.port}/metadata")

    assert str(refused.value) == f"idp.example.test resolves to a private or internal address (127.0.0.1), {REFUSED}"
    assert listener.requests == []  # connected, then closed before a byte was sent


# --- the settings page ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_saving_an_issuer_on_loopback_is_refused_at_the_field_and_never_called(acme, owner, signed_in, listener,
                                                                                private_refused):
    from tests.form_errors import error_next_to

    client = signed_in(owner, acme)

    response = client.post("/acme/settings/sso/", {"action": "save_idp", "protocol": "oidc",
                                                   "issuer": f"http://127.0.0.1:{listener.port}",
                                                   "client_id": "incidentio", "client_secret": "not-shown"},
                           follow=True)

    text = page_text(response)
    assert f"127.0.0.1 is a private or internal address, {REFUSED}" in html.unescape(
        error_next_to(response.content.decode(), "id_issuer"))
    assert "not-shown" not in text
    assert listener.connections == 0
    assert not OrgSSO.objects.filter(org=acme).exists()
