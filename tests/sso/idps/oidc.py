"""An OpenID Connect provider on loopback, built on Authlib's authorization
server (the code flow, PKCE, OpenID ID tokens) and served by Flask.

It plays a real IdP as far as our side can tell: discovery, an authorize
endpoint that auto-consents as ``idp.user`` (the person "signed in at the
IdP", set by the test) and answers with a 302 to the ``redirect_uri``, a token
endpoint checking the code, the PKCE verifier and the client secret
(``client_secret_post`` or ``client_secret_basic``, whichever it is built
with), userinfo, and a JWKS with the RS256 key its ID tokens are signed with.

It is stricter than the spec where that proves something about our side:
an authorization request without a ``nonce`` or without an S256
``code_challenge`` is refused.

Switches make it misbehave the ways an attacker or a broken IdP would:
``sign_with_unknown_key``, ``unsigned`` (``alg: none``), ``wrong_nonce``,
``expired``, ``wrong_audience``, ``userinfo_sub``, ``deny`` (the person says no
at the IdP: ``error=access_denied``), and ``stop()`` (the IdP is down).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import WSGIRequestHandler, make_server

# Authlib refuses plain HTTP unless told; this IdP only ever listens on loopback.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

KID = "loopback-signing-key"


@functools.cache
def _rsa_key(name: str) -> RSAKey:
    """An RS256 key, generated once per test process (2048-bit keys are slow to make).
    Every key carries the same ``kid``: a forged token names the real key's id."""
    return RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"}, private=True)


@dataclass
class IdpUser:
    """The person signed in at the IdP."""

    sub: str
    email: str
    name: str = ""
    groups: list[str] = field(default_factory=list)
    email_verified: bool = True

    def claims(self) -> dict:
        return {"sub": self.sub, "email": self.email, "email_verified": self.email_verified,
                "name": self.name, "groups": list(self.groups)}


@dataclass
class _Client:
    client_id: str
    client_secret: str
    auth_method: str

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in {"openid", "profile", "email"})

    def check_redirect_uri(self, redirect_uri):
        # Any callback is fine here: the test server's and the live server's
        # differ. The token endpoint still insists on the one the code was issued for.
        return bool(redirect_uri)

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return endpoint != "token" or method == self.auth_method

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class _Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: IdpUser
    nonce: str
    code_challenge: str
    code_challenge_method: str
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass  # one line per request would drown the test output


class OidcIdp:
    """One IdP with one registered client. ``start()`` serves it; ``stop()`` takes it down."""

    def __init__(self, *, client_id: str = "incidentio", client_secret: str | None = None,
                 auth_method: str = "client_secret_post"):
        self.client = _Client(client_id, client_secret or secrets.token_urlsafe(24), auth_method)
        self.key = _rsa_key("signing")
        self.user: IdpUser | None = None
        # Switches (see the module docstring).
        self.sign_with_unknown_key = False
        self.unsigned = False
        self.deny = False
        self.wrong_nonce = False
        self.expired = False
        self.wrong_audience = False
        self.userinfo_sub: str | None = None
        #: Every authorization request's parameters, for tests to look at.
        self.authorize_requests: list[dict] = []
        #: How the client authenticated at the token endpoint, per request.
        self.token_auth_methods: list[str] = []
        self._codes: dict[str, _Code] = {}
        self._tokens: dict[str, tuple[IdpUser, str]] = {}
        self._server = None
        self._thread = None
        self.port = 0

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def client_id(self) -> str:
        return self.client.client_id

    @property
    def client_secret(self) -> str:
        return self.client.client_secret

    def sign_in_as(self, sub: str, email: str, *, name: str = "", groups=(), email_verified: bool = True) -> IdpUser:
        """Who the IdP's authorize endpoint consents as from now on."""
        self.user = IdpUser(sub=sub, email=email, name=name, groups=list(groups), email_verified=email_verified)
        return self.user

    def start(self) -> OidcIdp:
        self._server = make_server("127.0.0.1", self.port, self._app(), threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"oidc-idp-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Take the IdP down: its port refuses connections from now on."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    # --- the Flask app --------------------------------------------------------

    def _app(self) -> Flask:
        app = Flask(f"oidc-idp-{id(self)}")
        server = AuthorizationServer(app, query_client=self._query_client, save_token=self._save_token)
        server.register_grant(self._code_grant(), [CodeChallenge(required=True), self._openid_extension()])
        idp = self

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify({
                "issuer": idp.issuer,
                "authorization_endpoint": f"{idp.issuer}/authorize",
                "token_endpoint": f"{idp.issuer}/token",
                "userinfo_endpoint": f"{idp.issuer}/userinfo",
                "jwks_uri": f"{idp.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email"],
                "token_endpoint_auth_methods_supported": [idp.client.auth_method],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": ["sub", "email", "email_verified", "name", "groups"],
            })

        @app.get("/jwks")
        def jwks():
            return jsonify({"keys": [idp.key.as_dict(private=False)]})

        @app.get("/authorize")
        def authorize():
            idp.authorize_requests.append(request.args.to_dict())
            if idp.user is None:
                return "Nobody is signed in at this IdP.", 403
            try:
                grant = server.get_consent_grant(end_user=idp.user)
            except OAuth2Error as error:
                # What a real IdP does with a request it refuses: an error page, no redirect.
                return jsonify(error=error.error, error_description=error.description), 400
            return server.create_authorization_response(grant_user=None if idp.deny else idp.user, grant=grant)

        @app.post("/token")
        def token():
            idp.token_auth_methods.append("client_secret_basic" if request.authorization else "client_secret_post")
            return server.create_token_response()

        @app.get("/userinfo")
        def userinfo():
            header = request.headers.get("Authorization", "")
            found = idp._tokens.get(header.removeprefix("Bearer ").strip()) if header.startswith("Bearer ") else None
            if found is None:
                return jsonify({"error": "invalid_token"}), 401
            claims = found[0].claims()
            if idp.userinfo_sub is not None:
                claims["sub"] = idp.userinfo_sub
            return jsonify(claims)

        return app

    def _query_client(self, client_id):
        return self.client if client_id == self.client.client_id else None

    def _save_token(self, token, oauth_request):
        self._tokens[token["access_token"]] = (oauth_request.user, token.get("scope", ""))

    def _code_grant(self):
        idp = self

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def validate_authorization_request(self):
                # PKCE with S256, always: a relying party that forgets it is refused here.
                if self.request.payload.data.get("code_challenge_method") != "S256":
                    raise InvalidRequestError("PKCE with code_challenge_method=S256 is required.")
                return super().validate_authorization_request()

            def save_authorization_code(self, code, oauth_request):
                data = oauth_request.payload.data
                idp._codes[code] = _Code(
                    code=code, client_id=oauth_request.client.client_id, redirect_uri=oauth_request.payload.redirect_uri,
                    scope=oauth_request.payload.scope, user=oauth_request.user, nonce=data.get("nonce", ""),
                    code_challenge=data.get("code_challenge", ""),
                    code_challenge_method=data.get("code_challenge_method", ""),
                )

            def query_authorization_code(self, code, client):
                found = idp._codes.get(code)
                return found if found is not None and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code):
                idp._codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return authorization_code.user

        return CodeGrant

    def _openid_extension(self):
        idp = self

        class IdToken(OpenIDCode):
            def exists_nonce(self, nonce, oauth_request):
                return any(code.nonce == nonce for code in idp._codes.values())

            def resolve_client_private_key(self, client):
                # A key of the same kid that the JWKS does not publish: a forgery.
                return _rsa_key("rogue") if idp.sign_with_unknown_key else idp.key

            def get_client_algorithm(self, client):
                return "RS256"

            def get_encode_header(self, client):
                return {"alg": "RS256", "kid": KID}

            def get_client_claims(self, client):
                now = int(time.time())
                expires = now - 600 if idp.expired else now + 300
                audience = "someone-else" if idp.wrong_audience else client.client_id
                return {"iss": idp.issuer, "aud": [audience], "iat": now - (900 if idp.expired else 0), "exp": expires}

            def get_authorization_code_claims(self, authorization_code):
                claims = super().get_authorization_code_claims(authorization_code)
                if idp.wrong_nonce:
                    claims["nonce"] = secrets.token_urlsafe(16)
                return claims

            def generate_user_info(self, user, scope):
                return user.claims()

            def process_token(self, grant, response):
                token = super().process_token(grant, response)
                if idp.unsigned and "id_token" in token:
                    # The same claims with ``alg: none`` and no signature.
                    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
                    token["id_token"] = f"{header.decode()}.{token['id_token'].split('.')[1]}."
                return token

        return IdToken(require_nonce=True)
