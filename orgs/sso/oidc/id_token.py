"""Verifying an ID token the way OpenID Connect Core §3.1.3.7 asks, always.

allauth trusts an ID token from the token endpoint without checking its
signature; we do not: the signature against the IdP's JWKS, the algorithm
(asymmetric only, never ``none`` or an HMAC keyed with a public key), the
issuer, the audience (and ``azp``), expiry and issue time, and the nonce
this browser's sign-in sent.
"""

from __future__ import annotations

import jwt
from allauth.socialaccount.adapter import get_adapter
from django.utils.crypto import constant_time_compare

from orgs.sso.oidc.errors import AnswerRefused

#: Asymmetric algorithms only: an IdP signs, we verify with its public key.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
#: Clock difference tolerated between the IdP and us, in seconds.
LEEWAY = 60
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub"]


def verify(id_token: str, *, jwks_uri: str, issuer: str, client_id: str, nonce: str | None) -> dict:
    """The ID token's claims, or ``AnswerRefused`` saying what is wrong with it.
    ``requests`` errors (the JWKS cannot be fetched) are left to the caller."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError:
        raise AnswerRefused("The identity provider's ID token is not a readable JWT.") from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise AnswerRefused(f"The identity provider's ID token is signed with {algorithm!r}, which is not accepted "
                            f"(use one of {', '.join(ALGORITHMS)}).")
    claims = _decode(id_token, algorithm, _candidate_keys(jwks_uri, header.get("kid"), algorithm),
                     issuer=issuer, client_id=client_id)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise AnswerRefused("The identity provider's ID token was issued to several applications, "
                            "and not authorized for this one (azp).")
    if not nonce or not constant_time_compare(str(claims.get("nonce", "")), nonce):
        raise AnswerRefused("The identity provider's ID token does not carry the nonce of this sign-in: "
                            "it was issued for another sign-in, or replayed.")
    return claims


def _candidate_keys(jwks_uri: str, kid: str | None, algorithm: str) -> list:
    """The IdP's published signing keys that may have signed this token."""
    with get_adapter().get_requests_session() as session:
        response = session.get(jwks_uri)
        response.raise_for_status()
        document = response.json()
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise AnswerRefused("The identity provider publishes no signing keys (its JWKS has no \"keys\").")
    keys = []
    for entry in entries:
        if not isinstance(entry, dict) or (kid is not None and entry.get("kid") != kid):
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", algorithm) != algorithm:
            continue
        try:
            keys.append(jwt.PyJWK(entry, algorithm=algorithm))
        except (jwt.PyJWTError, ValueError, TypeError):
            continue  # unreadable, or of another type than the algorithm needs: it cannot have signed this
    if not keys:
        raise AnswerRefused(f"The identity provider's ID token is signed with a key it does not publish (kid {kid!r}).")
    return keys


def _decode(id_token: str, algorithm: str, keys: list, *, issuer: str, client_id: str) -> dict:
    error = None
    for key in keys:
        try:
            return jwt.decode(id_token, key=key.key, algorithms=[algorithm], audience=client_id, issuer=issuer,
                              leeway=LEEWAY, options={"require": REQUIRED_CLAIMS, "verify_signature": True})
        except jwt.InvalidSignatureError as exc:
            error = exc  # another key of the same kid may match (a rotation in progress)
        except jwt.PyJWTError as exc:
            raise AnswerRefused(_reason(exc, issuer)) from None
    raise AnswerRefused(_reason(error, issuer)) from None


def _reason(exc: Exception | None, issuer: str) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "The identity provider's ID token has expired. Sign in again (and check the IdP's clock)."
    if isinstance(exc, jwt.InvalidAudienceError):
        return "The identity provider's ID token was issued for another application (its audience is not our client ID)."
    if isinstance(exc, jwt.InvalidIssuerError):
        return f"The identity provider's ID token was not issued by {issuer}."
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "The identity provider's ID token is not valid yet (check the IdP's clock)."
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"The identity provider's ID token has no {exc.claim!r} claim."
    if isinstance(exc, jwt.InvalidSignatureError):
        return "The identity provider's ID token signature does not match its published keys: it may be forged."
    return f"The identity provider's ID token could not be verified ({type(exc).__name__})."
