"""Why a SAML response was refused, in a sentence for the person signing in.

python3-saml explains a refusal in terms of the protocol ("… is not a valid
audience for this Response"); the person needs to know what went wrong and
whether trying again can help. The library's own words follow in brackets,
for whoever fixes the IdP's setup: they name IDs and URLs, never a key.
"""

from __future__ import annotations

#: (words in python3-saml's reason, what it means for the person), first match wins.
_EXPLANATIONS = (
    ("Signature validation failed",
     "The identity provider's signature does not match its answer: the answer was changed on the way, "
     "or signed with a key other than the one in the identity provider's metadata."),
    ("is not signed and the SP require",
     "The identity provider did not sign its answer, and this organization accepts signed answers only."),
    ("No Signature found",
     "The identity provider did not sign its answer, and this organization accepts signed answers only."),
    ("is not a valid audience",
     "The identity provider's answer was made for another service, not for this organization's sign-in "
     "(its SP entity ID)."),
    ("expired",
     "The identity provider's answer has expired. Sign in again; if this keeps happening, a clock is wrong."),
    ("not yet valid",
     "The identity provider's answer is not valid yet: the identity provider's clock is ahead."),
    ("Invalid issuer",
     "The answer comes from another identity provider than the one this organization trusts."),
    ("The response was received at",
     "The identity provider's answer was addressed to another sign-in address than this organization's "
     "(its ACS URL)."),
)


def explain(reason: str) -> str:
    """A sentence for the person, with python3-saml's ``reason`` after it."""
    for words, explanation in _EXPLANATIONS:
        if words in reason:
            return f"{explanation} ({reason})"
    return f"The identity provider's SAML answer was refused: {reason}"
