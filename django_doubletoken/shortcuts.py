"""Signing a user in from a project's own views: after sign-up, social login, a magic link,
an invite. ``django_doubletoken.login`` and ``django_doubletoken.login_response`` are these.
``reauthenticate`` and ``reauthenticate_response`` do what ``reauthenticate/`` does once the
project's own view has verified the user again (a WebAuthn assertion, an e-mailed code).

Both do what ``login/`` does once it has authenticated the user: open a device session (the
client's IP and user agent recorded), send ``user_logged_in`` (so ``last_login`` is updated)
and ``session_created``; ``login_response`` also answers exactly as ``login/`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from . import cookies, services
from .conf import doubletoken_settings
from .endpoints import NO_STORE, Refusal, token_pair_body
from .endpoints.handlers import pair_answer
from .http import proof_request, remote_ip, user_agent
from .parsers import RefusalError
from .services.binding import bound_context

__all__ = ["NO_STORE", "login", "login_response", "reauthenticate", "reauthenticate_response",
           "token_response"]


def login(
    request: HttpRequest | Request, user: Any, *, client: str | None = None, device: str = ""
) -> services.TokenPair:
    """Open a device session for ``user``, whom the project has authenticated itself, and
    return its token pair (``.access``, ``.refresh``, ``.session_id``, expiries).

    ``client`` is a profile of ``CLIENT_PROFILES`` (default ``DEFAULT_CLIENT``), ``device`` the
    label shown in the device list. ``ValueError`` for an unknown profile, an unsaved or an
    inactive user; ``request`` may be Django's or DRF's.
    """
    if client is not None and client not in doubletoken_settings.CLIENT_PROFILES:
        names = ", ".join(sorted(doubletoken_settings.CLIENT_PROFILES))
        raise ValueError(f"Unknown client profile {client!r}; CLIENT_PROFILES has: {names}.")
    if getattr(user, "pk", None) is None:
        raise ValueError("Save the user before signing it in: it has no primary key yet.")
    if not getattr(user, "is_active", True):
        raise ValueError(f"User {user.pk} is inactive: inactive users get no session.")
    django_request = getattr(request, "_request", request)
    # A DPoP proof on the request binds the session, as at login/ (ProofError otherwise).
    context = bound_context(client, proof_request(django_request))
    return services.login(
        user,
        client=client,
        device=device,
        ip=remote_ip(django_request),
        user_agent=user_agent(django_request),
        request=django_request,
        context=context,
    )


def login_response(
    request: HttpRequest | Request, user: Any, *, client: str | None = None, device: str = ""
) -> Response:
    """``login()``, answered as ``login/`` answers: the same JSON body, ``Cache-Control:
    no-store``, and with cookie transport the refresh token in its HttpOnly cookie instead.
    Return it from a DRF view or a plain Django view alike.

    In cookie mode a DRF request that a cross-site page could have sent is refused before
    any session is opened (415 for a body other than JSON, 403 ``csrf_failed`` for a foreign
    ``Origin``); a plain Django view has Django's CSRF middleware for that.
    """
    use_cookie = cookies.enabled_for(client or doubletoken_settings.DEFAULT_CLIENT)
    if use_cookie and isinstance(request, Request):
        try:
            cookies.refuse_cross_site_login(request._request)
        except Refusal as refusal:  # rendered by whatever exception handler the view has
            raise RefusalError(refusal) from None
    pair = login(request, user, client=client, device=device)
    response = token_response(pair, request, use_cookie=use_cookie)
    if not isinstance(request, Request):
        # No DRF view will negotiate and render it: JSON, as login/ renders it by default.
        response.accepted_renderer = JSONRenderer()
        response.accepted_media_type = JSONRenderer.media_type
        response.renderer_context = {"request": request, "response": response}
        response.render()
    return response


def token_response(
    pair: services.TokenPair, request: HttpRequest | Request, *, use_cookie: bool = False
) -> Response:
    """The pair as JSON (login/, refresh/); with cookie transport the refresh token goes in
    the cookie only."""
    answer = pair_answer(pair, token_pair_body(pair), use_cookie=use_cookie, refresh_path=None)
    response = Response(answer.body, status=answer.status)
    return answer.finish(response, getattr(request, "_request", request))


def reauthenticate(request: HttpRequest | Request, *, acr: str, amr: Sequence[str]
                   ) -> services.TokenPair:
    """Give the session of ``request``'s access token a fresh ``auth_time`` (RFC 9470
    step-up), the project's view having just verified its user again by means of its own;
    ``acr`` and ``amr`` say how (e.g. ``"mfa"``, ``["hwk"]``). Returns the new pair of the same
    session: the client must keep it (its previous refresh token is used up, as after a
    refresh). ``request.auth`` must be the ``AccessGrant`` of the app's authentication
    (``ValueError`` otherwise); ``TokenError`` when the session ended meanwhile.
    """
    grant = getattr(request, "auth", None)
    if not isinstance(grant, services.AccessGrant):
        raise ValueError("reauthenticate() needs a request authenticated by an access token "
                         "(DoubleTokenAuthentication, bearer_auth, DoubleTokenAuth).")
    django_request = getattr(request, "_request", request)
    user = services.session_user(grant)
    return services.reauthenticate(grant.session_id, user, acr=acr, amr=amr,
                                   request=django_request)


def reauthenticate_response(request: HttpRequest | Request, *, acr: str, amr: Sequence[str]
                            ) -> Response:
    """``reauthenticate()``, answered as ``reauthenticate/`` answers (the pair's JSON body, the
    refresh token in its cookie with cookie transport)."""
    pair = reauthenticate(request, acr=acr, amr=amr)
    client = request.auth.claims.client
    response = token_response(pair, request, use_cookie=cookies.enabled_for(client))
    if not isinstance(request, Request):
        response.accepted_renderer = JSONRenderer()
        response.accepted_media_type = JSONRenderer.media_type
        response.renderer_context = {"request": request, "response": response}
        response.render()
    return response
