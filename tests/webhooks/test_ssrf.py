"""Webhook SSRF (issue 22, finding 3): a delivery connects only to an address it
checked, and the checks refuse every address form that reaches a local network.

Fakes sit at the edge of the process only: ``resolver`` stands in for DNS
(``socket.getaddrinfo``) and can change its answer between two look-ups, as a
rebinding attacker's name server does; ``network`` lets connections reach
loopback and refuses (and records) any other destination, so no test sends a
packet off this machine. The receiver is a real HTTP(S) server on 127.0.0.1
and deliveries go through the real path: a declared incident, the delivery job
on commit (Celery eager), ``webhooks.transport.send``.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.models import Severity
from incidentio.incidents.services.incidents import incident_declare
from webhooks import services
from webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEventType

NAME = "hooks.example.test"
PUBLIC_IP = "93.184.215.14"  # globally routable; the `network` fixture never lets a packet reach it
PAGE = "/acme/settings/webhooks/"

# Each form is refused at save time as a literal and at delivery as what a name resolves to.
NON_PUBLIC = [
    "::127.0.0.1",  # IPv4-compatible loopback
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address 169.254.169.254
    "64:ff9b:1::7f00:1",  # local-use NAT64 prefix
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "ff02::1",  # multicast
    "224.0.0.1",
    "0.0.0.0",
    "100.64.0.1",  # shared address space (CGNAT)
]


# --- Edges of the process -----------------------------------------------------------------------


class Resolver:
    """DNS for the test names: each look-up of a name takes its next answer (an
    address, or a tuple of several), the last one repeating. Other names (the
    IP literals Python itself resolves) go to the real resolver."""

    def __init__(self, real):
        self.real = real
        self.answers: dict[str, list[str | tuple[str, ...]]] = {}
        self.lookups: list[str] = []

    def answer(self, name: str, *answers: str | tuple[str, ...]) -> None:
        self.answers[name] = list(answers)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if host not in self.answers:
            return self.real(host, port, family, type, proto, flags)
        self.lookups.append(host)
        answers = self.answers[host]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return [self._entry(address, int(port or 0)) for address in ((answer,) if isinstance(answer, str) else answer)]

    @staticmethod
    def _entry(address: str, port: int) -> tuple:
        if ipaddress.ip_address(address).version == 6:
            return (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port, 0, 0))
        return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))


@pytest.fixture
def resolver(monkeypatch):
    fake = Resolver(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake


@pytest.fixture
def network(monkeypatch):
    """Connections to loopback go through; any other is refused and recorded."""
    refused: list[tuple] = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        if isinstance(address, tuple) and not ipaddress.ip_address(address[0]).is_loopback:
            refused.append(address[:2])
            raise ConnectionRefusedError(111, "Connection refused (test network: loopback only)")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return refused


class Receiver:
    """An HTTP server on 127.0.0.1 that records each request's Host header and,
    over TLS, the server name (SNI) the client sent."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.requests: list[dict] = []
        self.server_names: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"host": self.headers["Host"], "path": self.path})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            tls.sni_callback = lambda sock, name, context: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """Deliveries run in-process, on commit, as in tests/webhooks/test_webhooks.py."""


def _endpoint(org, url) -> WebhookEndpoint:
    return services.endpoint_create(org=org, url=url, events=list(WebhookEventType.values), created_by=None)


def _declare(org, user) -> None:
    minor = Severity.objects.get(org=org, name="Minor")
    incident_declare(org=org, actor=Actor.for_user(user), name="Checkout is down", severity=minor)


# --- DNS rebinding ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_name_rebound_to_loopback_after_the_check_is_not_reached(
    acme, responder, settings, resolver, network, receiver
):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    endpoint = _endpoint(acme, f"http://{NAME}:{receiver.port}/hooks")
    resolver.answer(NAME, PUBLIC_IP, "127.0.0.1")  # public when checked, loopback from then on

    _declare(acme, responder)

    assert receiver.requests == []  # the loopback server was never reached
    assert network == [(PUBLIC_IP, receiver.port)]  # the connection went to the address that was checked
    assert resolver.lookups == [NAME]  # resolved once
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.state == DeliveryState.PENDING and delivery.last_error.startswith("Could not connect")


@pytest.mark.django_db(transaction=True)
def test_a_pinned_connection_still_sends_the_names_host_header(acme, responder, settings, resolver, network, receiver):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True  # receivers on the internal network, on purpose
    _endpoint(acme, f"http://{NAME}:{receiver.port}/hooks?team=ops")
    resolver.answer(NAME, "127.0.0.1")

    _declare(acme, responder)

    assert receiver.requests == [{"host": f"{NAME}:{receiver.port}", "path": "/hooks?team=ops"}]
    assert resolver.lookups == [NAME] and network == []
    assert WebhookDelivery.objects.get().state == DeliveryState.DELIVERED


# --- TLS: the certificate and SNI are the name's, not the address's ------------------------------


def _self_signed(tmp_path, name: str) -> tuple[str, str]:
    """A certificate for ``name`` only (no IP in it), made by the openssl command line."""
    cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-days", "1", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True, capture_output=True,
    )
    return str(cert), str(key)


@pytest.fixture
def tls_receiver(tmp_path, settings):
    """An HTTPS receiver on 127.0.0.1 whose certificate names only NAME; the
    delivery trusts that certificate through ``WEBHOOK_CA_BUNDLE``."""
    cert, key = _self_signed(tmp_path, NAME)
    settings.WEBHOOK_CA_BUNDLE = cert
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    r = Receiver(tls=context)
    yield r
    r.close()


@pytest.mark.django_db(transaction=True)
def test_https_to_a_pinned_address_verifies_the_certificate_for_the_name_and_sends_it_as_sni(
    acme, responder, settings, resolver, network, tls_receiver
):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    _endpoint(acme, f"https://{NAME}:{tls_receiver.port}/hooks")
    resolver.answer(NAME, "127.0.0.1")

    _declare(acme, responder)

    assert WebhookDelivery.objects.get().state == DeliveryState.DELIVERED
    assert tls_receiver.server_names == [NAME]
    assert tls_receiver.requests == [{"host": f"{NAME}:{tls_receiver.port}", "path": "/hooks"}]


@pytest.mark.django_db(transaction=True)
def test_https_refuses_a_certificate_for_another_name(acme, responder, settings, resolver, network, tls_receiver):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    other = "other.example.test"
    _endpoint(acme, f"https://{other}:{tls_receiver.port}/hooks")
    resolver.answer(other, "127.0.0.1")

    _declare(acme, responder)

    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.PENDING
    assert "CERTIFICATE_VERIFY_FAILED" in delivery.last_error and other in delivery.last_error
    assert tls_receiver.requests == []


# --- Address forms that reach a local network ---------------------------------------------------


def _literal(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@pytest.mark.django_db
@pytest.mark.parametrize("address", NON_PUBLIC)
def test_a_url_with_a_non_public_address_is_refused_on_the_settings_page(address, acme, admin, signed_in, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False

    response = signed_in(admin, acme).post(
        PAGE, {"url": f"http://{_literal(address)}:8080/hook", "events": ["incident.created"]}
    )

    assert response.status_code == 400
    assert "must point at a public address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["2606:4700:4700::1111", "64:ff9b::5db8:d70e", "2002:5db8:d70e::1", PUBLIC_IP])
def test_public_addresses_in_any_form_are_accepted(address, acme, admin, signed_in, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False

    url = f"https://{_literal(address)}/hook"

    response = signed_in(admin, acme).post(PAGE, {"url": url, "events": ["incident.created"]})

    assert response.status_code == 201  # the page that shows the new secret once
    assert WebhookEndpoint.objects.get(org=acme).url == url


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("address", NON_PUBLIC)
def test_a_name_resolving_to_a_non_public_address_is_not_delivered_to(
    address, acme, responder, settings, resolver, network, receiver
):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    endpoint = _endpoint(acme, f"http://{NAME}:{receiver.port}/hooks")
    resolver.answer(NAME, address)

    _declare(acme, responder)

    assert network == [] and receiver.requests == []  # no connection attempted at all
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    assert delivery.last_error == f"{NAME} resolves to a non-public address ({address})."
    endpoint.refresh_from_db()
    assert not endpoint.is_active  # refused for good, not retried for a day


@pytest.mark.django_db(transaction=True)
def test_one_private_answer_among_public_ones_refuses_the_name(acme, responder, settings, resolver, network, receiver):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    _endpoint(acme, f"http://{NAME}:{receiver.port}/hooks")
    resolver.answer(NAME, (PUBLIC_IP, "127.0.0.1"))

    _declare(acme, responder)

    assert network == [] and receiver.requests == []
    assert "non-public address (127.0.0.1)" in WebhookDelivery.objects.get().last_error
