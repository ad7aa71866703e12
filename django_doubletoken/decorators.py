"""Per-view control for plain Django and DRF views.

``bearer_auth`` lets a plain Django view authenticate the Bearer access token as DRF views do
(``BearerAuthMixin`` in ``mixins`` for class-based views). ``step_up_required`` does the same
and asks for a recent or strong enough authentication (RFC 9470). ``sliding_exempt`` opts a
view out of the sliding middleware's re-issue, as ``csrf_exempt`` opts one out of CSRF checks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .api_errors import domain_error_response, error_response
from .bearer import TokenUser, aauthenticate_bearer, authenticate_bearer
from .errors import NOT_AUTHENTICATED, DoubleTokenError
from .http import DEFAULT_REALM, challenge_scheme
from .services import AccessGrant
from .sliding import sliding_exempt
from .stepup import InsufficientAuthentication, Requirement, requirement

__all__ = ["bearer_auth", "sliding_exempt", "step_up_required"]

View = TypeVar("View", bound=Callable[..., Any])


@overload
def bearer_auth(view: View, *, required: bool = True, realm: str = DEFAULT_REALM) -> View: ...
@overload
def bearer_auth(view: None = None, *, required: bool = True, realm: str = DEFAULT_REALM
                ) -> Callable[[View], View]: ...


def bearer_auth(view=None, *, required=True, realm=DEFAULT_REALM):
    """Authenticate the ``Authorization: Bearer`` access token for a plain Django view (sync
    or async), as ``DoubleTokenAuthentication`` does for DRF views; where a profile has DPoP
    on, ``Authorization: DPoP`` with the request's ``DPoP`` proof too (a bound token needs it).

    With a valid token, ``request.user`` is a ``TokenUser`` (its row is loaded only when the
    view reads more than ``pk``; ``await request.auser()`` gives it too) and ``request.auth``
    the ``AccessGrant`` (``.claims``, ``.session_id``). A refused token is answered with the
    401 ``{"detail", "code"}`` and ``WWW-Authenticate`` of the error contract (503 when the
    cache is down), the view never runs. Without a Bearer header: 401 ``not_authenticated``,
    or with ``required=False`` the view runs with ``request.user`` as it was (e.g. the session
    user).

    Required-token views are exempt from CSRF checks, as DRF's are: a browser never adds an
    ``Authorization`` header by itself. With ``required=False`` CSRF protection stays on.
    ``realm`` names the realm of the 401s' ``WWW-Authenticate`` challenge.
    """
    if view is None:
        return functools.partial(bearer_auth, required=required, realm=realm)
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            refusal = await aauthenticate_view_request(request, required=required, realm=realm)
            return refusal if refusal is not None else await view(request, *args, **kwargs)
    else:

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            refusal = authenticate_view_request(request, required=required, realm=realm)
            return refusal if refusal is not None else view(request, *args, **kwargs)

    return csrf_exempt(wrapper) if required else wrapper


def authenticate_view_request(request: HttpRequest, *, required: bool,
                              realm: str = DEFAULT_REALM) -> HttpResponse | None:
    """Authenticate a plain view's request (see ``bearer_auth``); the response that refuses
    it, or None when the view may run."""
    try:
        result = authenticate_bearer(request)
    except DoubleTokenError as error:
        return refusal_response(request, error, realm)
    return _accept(request, result, required, realm)


async def aauthenticate_view_request(request: HttpRequest, *, required: bool,
                                     realm: str = DEFAULT_REALM) -> HttpResponse | None:
    try:
        result = await aauthenticate_bearer(request)
    except DoubleTokenError as error:
        return refusal_response(request, error, realm)
    return _accept(request, result, required, realm)


def _accept(request: HttpRequest, result: tuple[TokenUser, AccessGrant] | None,
            required: bool, realm: str) -> HttpResponse | None:
    if result is None:
        return refusal_response(request, None, realm) if required else None
    user, grant = result
    request.user, request.auth = user, grant

    async def auser() -> TokenUser:
        return user

    request.auser = auser
    return None


def refusal_response(request: HttpRequest, error: DoubleTokenError | None,
                     realm: str = DEFAULT_REALM) -> JsonResponse:
    """The error contract's response for views outside DRF: ``error``'s, or with None the
    401 ``not_authenticated`` of a request without a token."""
    scheme = challenge_scheme(request, realm)
    if error is None:
        return error_response(NOT_AUTHENTICATED, scheme)
    return domain_error_response(error, scheme)


def step_up_required(*, max_age: Any = None, acr_values: Iterable[str] | str = (),
                     realm: str = DEFAULT_REALM) -> Callable[[View], View]:
    """Guard a plain Django view (sync or async; ``method_decorator`` for a class-based one):
    ``bearer_auth``'s authentication (skipped when an outer ``bearer_auth`` already did it),
    then the user must have proved who they are at most ``max_age`` ago (seconds or a
    ``timedelta``) and/or with one of ``acr_values``. Otherwise RFC 9470's 401 (the
    ``insufficient_user_authentication`` challenge with ``max_age`` / ``acr_values``), the view
    never runs. Reads the token's claims only: no query, no extra cache round trip::

        @step_up_required(max_age=300)
        def change_email(request): ...
    """
    needed = requirement(max_age, acr_values)

    def decorate(view: View) -> View:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                refusal = None
                if not isinstance(getattr(request, "auth", None), AccessGrant):
                    refusal = await aauthenticate_view_request(request, required=True,
                                                               realm=realm)
                refusal = refusal or _step_up_refusal(request, needed, realm)
                return refusal if refusal is not None else await view(request, *args, **kwargs)
        else:

            @functools.wraps(view)
            def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                refusal = None
                if not isinstance(getattr(request, "auth", None), AccessGrant):
                    refusal = authenticate_view_request(request, required=True, realm=realm)
                refusal = refusal or _step_up_refusal(request, needed, realm)
                return refusal if refusal is not None else view(request, *args, **kwargs)

        return csrf_exempt(wrapper)

    return decorate


def _step_up_refusal(request: HttpRequest, needed: Requirement, realm: str
                     ) -> JsonResponse | None:
    try:
        needed.check(request.auth.claims)
    except InsufficientAuthentication as refusal:
        return refusal_response(request, refusal, realm)
    return None
