"""Which requests need a proof and what it must match: a client profile's mode (``off``,
``optional``, ``required``) applied to login, refresh and every authenticated request.

The face hands down a ``ProofRequest`` (``http.proof_request``): plain strings, no HTTP
types. A token bound to a key (``cnf.jkt``) needs a proof by that key wherever it is used; an
unbound one is used as before, and with the ``DPoP`` scheme only where its profile has DPoP
on. Nothing here changes state but the replay record of an accepted proof.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..conf import derived_from_settings, doubletoken_settings
from ..errors import TOKEN_INVALID, TokenError
from .errors import refuse
from .proof import OFF, OPTIONAL, REQUIRED, Proof, check_proof, verify_proof


@dataclass(frozen=True)
class ProofRequest:
    """What a face reads from a request for its proof: the ``DPoP`` header's value(s) (None
    when there is none), the method, and the URL as the client addressed it (no query)."""

    values: str | Sequence[str] | None
    method: str
    uri: str


def mode(client: str) -> str:
    """The DPoP mode of a client profile; ``off`` for a profile that no longer exists."""
    try:
        return doubletoken_settings.profile(client).dpop
    except KeyError:
        return OFF


@derived_from_settings
def enabled() -> bool:
    """Whether any profile has DPoP on: only then is the ``DPoP`` scheme read and offered."""
    return any(profile.dpop != OFF for profile in doubletoken_settings.profiles())


def login_proof(client: str, request: ProofRequest | None) -> Proof | None:
    """The proof a login binds its session to, checked and recorded; None: the session stays
    unbound (DPoP off for ``client``, or optional and no proof sent). A proof that is sent
    must be valid even where it is optional: a client that asked for a binding gets one or
    an error, never a bearer session it believes bound."""
    wanted = mode(client)
    if wanted == OFF or (wanted == OPTIONAL and (request is None or request.values is None)):
        return None
    if request is None:
        raise refuse("the request has no DPoP header")
    return verify_proof(request.values, method=request.method, uri=request.uri)


def check_refresh(jkt: str, client: str, request: ProofRequest | None) -> None:
    """Before a refresh changes anything: a bound session's refresh token needs a proof by its
    key (RFC 9449 §5), recorded here. Where the profile requires DPoP, an unbound session
    (opened before it was required) cannot be refreshed: its client logs in again, bound."""
    if jkt:
        if request is None:
            raise refuse("the request has no DPoP header")
        verify_proof(request.values, method=request.method, uri=request.uri, jkt=jkt)
    elif mode(client) == REQUIRED:
        if request is None:
            raise refuse("the request has no DPoP header")
        raise TokenError(TOKEN_INVALID)


def access_proof(token: str, jkt: str, client: str, request: ProofRequest | None
                 ) -> Proof | None:
    """Check, writing nothing, the proof of a request carrying the access token ``token``
    (bound to ``jkt``, "" when unbound); ``request`` is None when the token came with the
    ``Bearer`` scheme. The caller records ``proof.replay`` in its one cache round trip.

    A bound token sent as Bearer is refused (no downgrade); an unbound one sent as DPoP is
    accepted, with its proof checked, only where its profile has DPoP on."""
    if request is None:
        if jkt:
            raise refuse("a DPoP-bound token was sent without the DPoP scheme")
        return None
    if not jkt and mode(client) == OFF:
        raise refuse("the token is not DPoP-bound")
    return check_proof(request.values, method=request.method, uri=request.uri,
                       access_token=token, jkt=jkt or None)
