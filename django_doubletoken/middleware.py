"""The sliding response middleware: re-issues a near-expiry access token in a header.

Which responses get one: every response below 400 to a request whose Bearer access token is
valid, not revoked and within ``SLIDING_THRESHOLD`` of its expiry, except from views marked
``sliding_exempt``. That includes views that did not authenticate the token themselves (plain
Django views without ``bearer_auth``, DRF views with other authentication classes or none):
there the middleware verifies the token itself, with the same checks as authentication, and
only when it is inside the window (one decode; then one cache round trip). Such a view still
sees ``request.user`` as its own authentication left it (often ``AnonymousUser``); the client
simply keeps its session alive through any call. A token that was refused, any error
response, and any response to a request that revoked the token's own session (logout,
logout-all, a password change, an admin action: whatever went through ``services``) never
get a successor.

Place it anywhere in ``MIDDLEWARE`` above the views; above ``corsheaders``' CorsMiddleware
if you use it, so that on the way out this runs after it and adds the header name to the
``Access-Control-Expose-Headers`` that CorsMiddleware set (browsers hide custom headers from
cross-origin scripts unless they are listed there).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

from . import dpop, services, tokens
from .conf import doubletoken_settings
from .errors import DoubleTokenError
from .http import GRANT_ATTRIBUTE, REJECTED_ATTRIBUTE, access_token, proof_request
from .services import AccessGrant
from .sliding import is_sliding_exempt
from .tokens import AccessClaims

EXPOSE_HEADERS = "Access-Control-Expose-Headers"


Candidate = tuple[str, AccessClaims, dpop.ProofRequest | None]


def _unverified_candidate(request: HttpRequest) -> Candidate | None:
    """For views that did not authenticate the token: the token, its verified claims and the
    request's DPoP proof (when sent with the DPoP scheme), if it is valid and near expiry
    (its session and proof are checked next, as authentication checks them). No cache round
    trip otherwise."""
    if getattr(request, REJECTED_ATTRIBUTE, False):
        return None
    try:
        found = access_token(request)
        if found is None:
            return None
        claims = tokens.decode_access(found[0])
    except DoubleTokenError:
        return None
    if not services.needs_slide(claims):
        return None
    try:
        return found[0], claims, proof_request(request, always=True) if found[1] else None
    except DisallowedHost:  # the URL a proof names needs a host the project serves
        return None


def _should_consider(request: HttpRequest, response: HttpResponseBase) -> bool:
    # Error responses (including the token's own 401) never carry a new token, nor do views
    # that opted out with ``sliding_exempt``.
    if response.status_code >= 400 or getattr(request, REJECTED_ATTRIBUTE, False):
        return False
    match = getattr(request, "resolver_match", None)
    return not is_sliding_exempt(match.func if match is not None else None)


def attach_token(response: HttpResponseBase, token: str, scheme: str = "Bearer") -> None:
    """``scheme``: how the token is to be sent, ``DPoP`` for a session bound to a key (the
    successor keeps its predecessor's binding)."""
    header = doubletoken_settings.NEW_TOKEN_HEADER
    response[header] = f"{scheme} {token}"
    exposed = [h.strip() for h in response.get(EXPOSE_HEADERS, "").split(",") if h.strip()]
    if header.lower() not in (h.lower() for h in exposed):
        exposed.append(header)
    response[EXPOSE_HEADERS] = ", ".join(exposed)
    # A response carrying a credential must never be stored by a shared cache.
    patch_cache_control(response, private=True, no_store=True)
    patch_vary_headers(response, ["Authorization"])


class SlidingTokenMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(
        self, get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable]
    ) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self.__acall__(request)
        # The sessions this request revokes are noted there, and never slid (services.slide).
        with services.request_scope(sliding=True):
            return self._respond(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        with services.request_scope(sliding=True):
            return await self._arespond(request)

    def _respond(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        work = _slide_work(request, response)
        if work is None:
            _withdraw_unsent(request)
            return response
        grant, candidate = work
        try:
            grant = grant or _verified(candidate)
            token = services.slide(grant)
        except DoubleTokenError:
            return response  # the response is made; a failed re-issue only means none is sent
        return _with_successor(response, token, grant)

    async def _arespond(self, request: HttpRequest) -> HttpResponseBase:
        response = await self.get_response(request)
        work = _slide_work(request, response)
        if work is None:
            await sync_to_async(_withdraw_unsent)(request)
            return response
        grant, candidate = work
        try:
            grant = grant or await _averified(candidate)
            token = await services.aslide(grant)
        except DoubleTokenError:
            return response
        return _with_successor(response, token, grant)


def _verified(candidate: Candidate | None) -> AccessGrant:
    raw, claims, proof = candidate  # type: ignore[misc]
    return services.authenticate_access(raw, claims, proof=proof)


async def _averified(candidate: Candidate | None) -> AccessGrant:
    raw, claims, proof = candidate  # type: ignore[misc]
    return await services.aauthenticate_access(raw, claims, proof=proof)


def _slide_work(request: HttpRequest, response: HttpResponseBase
                ) -> tuple[AccessGrant | None, Candidate | None] | None:
    """What the middleware has to do for ``response`` (the decisions of both paths): nothing
    (None), slide the grant authentication left, or first verify the candidate token (the
    token and its claims, for views that did not authenticate it)."""
    if not _should_consider(request, response):
        return None
    grant: AccessGrant | None = getattr(request, GRANT_ATTRIBUTE, None)
    if grant is not None:
        return grant, None
    candidate = _unverified_candidate(request)
    return None if candidate is None else (None, candidate)


def _withdraw_unsent(request: HttpRequest) -> None:
    """A successor stored by authentication's read that this response will not carry."""
    grant: AccessGrant | None = getattr(request, GRANT_ATTRIBUTE, None)
    if grant is None or not grant.stored_here:
        return
    # The response is made: if this fails, the old token is refused after GRACE_PERIOD.
    with contextlib.suppress(DoubleTokenError):
        services.withdraw(grant)


def _with_successor(response: HttpResponseBase, token: str | None, grant: AccessGrant
                    ) -> HttpResponseBase:
    if token:
        attach_token(response, token, "DPoP" if grant.claims.context.bound else "Bearer")
    return response
