"""A SAML 2.0 identity provider on loopback, built on pysaml2, for the SSO tests.

It serves its metadata and a single sign-on endpoint (HTTP-Redirect binding
in) over real HTTP on 127.0.0.1, in a thread of the test process. There is no
IdP sign-in page: the endpoint answers for whoever the test made the
"signed-in IdP user" (``idp.user``), with the HTML auto-submit form of the
HTTP-POST binding, posting a response whose assertion is signed (rsa-sha256,
digest sha256: pysaml2 defaults to sha1, which python3-saml refuses) to the
ACS URL the service provider asked for.

``idp.fault`` makes the next answers wrong in one way a test names
(``Fault``), each something an attacker or a misconfigured IdP could send.
"""

from __future__ import annotations

import base64
import datetime
import html
import tempfile
import threading
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from flask import Flask, Response, request
from lxml import etree
from saml2 import BINDING_HTTP_REDIRECT, saml, samlp
from saml2.assertion import Policy
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.s_utils import decode_base64_and_inflate
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
from saml2.xmldsig import NAMESPACE as XMLDSIG_NS
from werkzeug.serving import make_server

#: The attribute names the IdP sends (name format URI), as common IdPs do.
EMAIL_ATTRIBUTE = "urn:oid:0.9.2342.19200300.100.1.3"
DISPLAY_NAME_ATTRIBUTE = "displayName"
GROUPS_ATTRIBUTE = "groups"


class NobodySignedIn(RuntimeError):
    """The test did not set ``idp.user``."""


class Fault(Enum):
    """Ways the IdP's next answers can be wrong (``SamlIdp.fault``)."""

    #: The e-mail address in the signed assertion is changed after signing.
    TAMPERED = "tampered"
    #: The assertion is for another service provider (its Audience).
    WRONG_AUDIENCE = "wrong_audience"
    #: The assertion's validity (NotOnOrAfter) ended half an hour ago.
    EXPIRED = "expired"
    #: Neither the assertion nor the response is signed.
    UNSIGNED = "unsigned"
    #: Signed, but with a key whose certificate is not in the IdP's metadata.
    WRONG_KEY = "wrong_key"
    #: A rogue IdP: answers AuthnRequests addressed to another IdP too (another org's).
    ANSWERS_ANY_REQUEST = "answers_any_request"


@dataclass
class SamlUser:
    """The person signed in at the IdP."""

    name_id: str
    email: str
    name: str = ""
    groups: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Answer:
    """What the IdP last posted (or would post) to a service provider."""

    acs_url: str
    saml_response: str  # base64, as in the form
    relay_state: str


class SamlIdp:
    """One IdP: its own signing key, entity id and URLs on a free port."""

    def __init__(self, label: str = "idp"):
        self.label = label
        self.user: SamlUser | None = None
        self.fault: Fault | None = None
        #: The last answer the IdP sent, for tests that replay or re-address it.
        self.last_answer: Answer | None = None
        self._dir = tempfile.TemporaryDirectory(prefix=f"saml-{label}-")
        self._http = make_server("127.0.0.1", 0, _flask_app(self), threaded=True)
        self.base_url = f"http://127.0.0.1:{self._http.server_port}"
        self._key_file, self._cert_file = key_pair(Path(self._dir.name), "signing", self.entity_id)
        # The wrong key: a valid signature no one published.
        self._other_key_file, self._other_cert_file = key_pair(Path(self._dir.name), "other", self.entity_id)
        self._server = Server(config=self._config(self._key_file, self._cert_file))
        self._wrong_key_server = Server(config=self._config(self._other_key_file, self._other_cert_file))
        self._thread = threading.Thread(target=self._http.serve_forever, name=f"saml-idp-{label}", daemon=True)

    # --- URLs -------------------------------------------------------------------

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}/metadata"

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/metadata"

    @property
    def sso_url(self) -> str:
        return f"{self.base_url}/sso/redirect"

    @property
    def certificate(self) -> str:
        """The signing certificate published in the metadata (PEM)."""
        return Path(self._cert_file).read_text()

    # --- lifecycle --------------------------------------------------------------

    def start(self) -> SamlIdp:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for a serve_forever() that never started
            self._http.shutdown()
            self._thread.join()
        self._http.server_close()
        self._dir.cleanup()

    # --- the IdP ----------------------------------------------------------------

    def metadata(self) -> str:
        return create_metadata_string(None, config=self._server.config, valid=24).decode()

    def answer(self, saml_request: str, relay_state: str) -> Answer:
        """The response to an AuthnRequest (HTTP-Redirect encoded), for ``self.user``."""
        if self.fault is Fault.ANSWERS_ANY_REQUEST:
            # pysaml2's parser refuses a request whose Destination is another IdP: read it bare.
            authn_request = samlp.authn_request_from_string(decode_base64_and_inflate(saml_request))
        else:
            authn_request = self._server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT).message
        return self._answer(in_response_to=authn_request.id, acs_url=authn_request.assertion_consumer_service_url,
                            audience=authn_request.issuer.text, relay_state=relay_state)

    def unsolicited_answer(self, *, acs_url: str, audience: str, relay_state: str = "") -> Answer:
        """An IdP-initiated response (no AuthnRequest: no InResponseTo), as an
        IdP's app tile sends, for ``self.user``."""
        return self._answer(in_response_to=None, acs_url=acs_url, audience=audience, relay_state=relay_state)

    def _answer(self, *, in_response_to: str | None, acs_url: str, audience: str, relay_state: str) -> Answer:
        if self.user is None:
            raise NobodySignedIn("No one is signed in at the IdP: set idp.user first.")
        if self.fault is Fault.WRONG_AUDIENCE:
            audience = "https://another-service.example.com/saml/metadata/"
        lifetime = {"minutes": -30} if self.fault is Fault.EXPIRED else {"minutes": 5}
        server = self._wrong_key_server if self.fault is Fault.WRONG_KEY else self._server
        response = server.create_authn_response(
            identity={
                EMAIL_ATTRIBUTE: [self.user.email],
                DISPLAY_NAME_ATTRIBUTE: [self.user.name],
                GROUPS_ATTRIBUTE: list(self.user.groups),
            },
            in_response_to=in_response_to,
            destination=acs_url,
            sp_entity_id=audience,
            name_id=saml.NameID(format=NAMEID_FORMAT_PERSISTENT, sp_name_qualifier=audience, text=self.user.name_id),
            authn={"class_ref": saml.AUTHN_PASSWORD_PROTECTED, "authn_auth": self.entity_id},
            release_policy=Policy({"default": {"lifetime": lifetime, "attribute_restrictions": None,
                                               "name_form": NAME_FORMAT_URI}}, mds=server.metadata),
            sign_assertion=True,
            sign_response=False,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
        )
        xml = str(response)
        if self.fault is Fault.UNSIGNED:
            xml = _without_signatures(xml)
        if self.fault is Fault.TAMPERED:
            tampered = xml.replace(self.user.email, "mallory@" + self.user.email.rpartition("@")[2])
            assert tampered != xml, "the e-mail address to tamper with is not in the response"
            xml = tampered
        answer = Answer(acs_url=acs_url, saml_response=base64.b64encode(xml.encode()).decode(),
                        relay_state=relay_state)
        self.last_answer = answer
        return answer

    def _config(self, key_file: str, cert_file: str) -> IdPConfig:
        config = IdPConfig()
        config.load({
            "entityid": self.entity_id,
            "service": {"idp": {
                "name": f"Loopback IdP {self.label}",
                "endpoints": {"single_sign_on_service": [(self.sso_url, BINDING_HTTP_REDIRECT)]},
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                # Any service provider may ask: the tests post answers where they choose.
                "want_authn_requests_signed": False,
            }},
            "key_file": key_file,
            "cert_file": cert_file,
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "metadata": {},
            "accepted_time_diff": 60,
        })
        return config


def auto_submit_form(answer: Answer) -> str:
    """The HTTP-POST binding's page: a form posting the response to the ACS, sent by a tiny script."""
    fields = {"SAMLResponse": answer.saml_response, "RelayState": answer.relay_state}
    inputs = "".join(f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
                     for name, value in fields.items() if value)
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Signing you in</title></head><body>"
        f'<form method="post" action="{html.escape(answer.acs_url)}">{inputs}'
        '<noscript><button type="submit">Continue</button></noscript></form>'
        "<script>document.forms[0].submit();</script></body></html>"
    )


def _flask_app(idp: SamlIdp) -> Flask:
    app = Flask(f"saml_idp_{idp.label}")

    @app.get("/metadata")
    def metadata():
        return Response(idp.metadata(), content_type="application/samlmetadata+xml")

    @app.get("/sso/redirect")
    def single_sign_on():
        try:
            answer = idp.answer(request.args["SAMLRequest"], request.args.get("RelayState", ""))
        except NobodySignedIn as exc:
            return Response(str(exc), status=401, content_type="text/plain")
        return Response(auto_submit_form(answer), content_type="text/html; charset=utf-8")

    return app


def _without_signatures(xml: str) -> str:
    """The response with every XML signature taken out (pysaml2 cannot leave
    an assertion unsigned for a service provider missing from its metadata)."""
    root = etree.fromstring(xml.encode())
    for signature in list(root.iter(f"{{{XMLDSIG_NS}}}Signature")):
        signature.getparent().remove(signature)
    return etree.tostring(root, encoding="unicode")


def key_pair(directory: Path, name: str, common_name: str) -> tuple[str, str]:
    """A fresh RSA key and its self-signed certificate, as PEM files (xmlsec1 reads files)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / f"{name}.key", directory / f"{name}.crt"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(key_path), str(cert_path)
