"""Authenticating the access token of a Django request, for every face: the DRF
authentication class, the plain-view decorators, the Ninja auth classes and the sliding
middleware all call these. A DPoP request's proof is read here and checked by the one access
service (``services.authenticate_access``), so every face checks it alike.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from . import dpop, services
from .errors import DoubleTokenError
from .http import GRANT_ATTRIBUTE, REJECTED_ATTRIBUTE, access_token, proof_request
from .services import AccessGrant
from .sliding import is_sliding_exempt


class TokenUser(SimpleLazyObject):
    """The token's user, loaded from the database only when a view needs more than its pk.

    ``pk``, ``id``, ``is_authenticated``, ``is_anonymous`` and ``bool()`` answer without a query, so
    permission checks like ``IsAuthenticated`` and per-user filtering cost nothing. Any other
    attribute loads the row once. Inactive and deleted users never get here: deactivating or
    deleting a user revokes their sessions.
    """

    def __init__(self, pk: Any) -> None:
        model = get_user_model()
        super().__init__(lambda: model._default_manager.get(pk=pk))
        self.__dict__["_token_user_pk"] = pk

    @property
    def pk(self) -> Any:
        return self.__dict__["_token_user_pk"]

    id = pk

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def __bool__(self) -> bool:
        # IsAuthenticated tests ``bool(request.user)`` first; a user is always truthy.
        return True


def authenticate_bearer(request: HttpRequest) -> tuple[TokenUser, AccessGrant] | None:
    """Verify the request's access token (``Authorization: Bearer``, or ``DPoP`` with its
    proof where DPoP is on): one JWT decode, one cache round trip, no database query. Its
    user and grant; None when there is no such header; a ``DoubleTokenError`` when the token
    is refused. Either outcome is remembered on the request, so the sliding middleware reuses
    it instead of verifying again."""
    found = credentials(request)
    if found is None:
        return None
    return _user(request, verify(request, *found))


async def aauthenticate_bearer(request: HttpRequest) -> tuple[TokenUser, AccessGrant] | None:
    """``authenticate_bearer`` for async views: the cache is read with its async API."""
    found = credentials(request)
    if found is None:
        return None
    return _user(request, await averify(request, *found))


def credentials(request: HttpRequest) -> tuple[str, bool] | None:
    """The request's access token and whether it came with the DPoP scheme
    (``http.access_token``); a malformed one is refused and remembered as such."""
    try:
        return access_token(request)
    except DoubleTokenError:
        setattr(request, REJECTED_ATTRIBUTE, True)
        raise


def verify(request: HttpRequest, raw: str, dpop_scheme: bool | None = None) -> AccessGrant:
    """Verify ``raw``, the request's access token, with the request's DPoP proof when it
    came with the DPoP scheme (``dpop_scheme``; None: read from the request). The grant is
    stored on the request, a refusal noted there; a token verified already is not verified
    again (its proof could not be used twice)."""
    grant = _verified(request, raw)
    if grant is not None:
        return grant
    try:
        grant = services.authenticate_access(raw, proof=_proof(request, dpop_scheme),
                                             slide=_will_slide(request))
    except DoubleTokenError:
        setattr(request, REJECTED_ATTRIBUTE, True)
        raise
    setattr(request, GRANT_ATTRIBUTE, grant)
    return grant


async def averify(request: HttpRequest, raw: str, dpop_scheme: bool | None = None
                  ) -> AccessGrant:
    grant = _verified(request, raw)
    if grant is not None:
        return grant
    try:
        grant = await services.aauthenticate_access(raw, proof=_proof(request, dpop_scheme),
                                                    slide=_will_slide(request))
    except DoubleTokenError:
        setattr(request, REJECTED_ATTRIBUTE, True)
        raise
    setattr(request, GRANT_ATTRIBUTE, grant)
    return grant


def _will_slide(request: HttpRequest) -> bool:
    """Whether the sliding middleware will consider this request's token: it handles the
    request and the resolved view did not opt out (the response's status is not known yet:
    the middleware withdraws a successor its response does not carry)."""
    if not services.sliding_request():
        return False
    match = getattr(request, "resolver_match", None)
    return not is_sliding_exempt(match.func if match is not None else None)


def _verified(request: HttpRequest, raw: str) -> AccessGrant | None:
    grant = getattr(request, GRANT_ATTRIBUTE, None)
    return grant if grant is not None and grant.token == raw else None


def _proof(request: HttpRequest, dpop_scheme: bool | None) -> dpop.ProofRequest | None:
    if dpop_scheme is None:
        found = access_token(request)
        dpop_scheme = found is not None and found[1]
    return proof_request(request, always=True) if dpop_scheme else None


def _user(request: HttpRequest, grant: AccessGrant) -> tuple[TokenUser, AccessGrant]:
    try:
        return TokenUser(services.user_pk(grant.claims.sub)), grant
    except DoubleTokenError:
        setattr(request, REJECTED_ATTRIBUTE, True)
        delattr(request, GRANT_ATTRIBUTE)
        raise
