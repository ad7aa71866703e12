"""Cookie transport for the refresh token (opt-in with ``REFRESH_COOKIE_NAME``).

The refresh token is set as an ``HttpOnly; Secure; SameSite`` cookie scoped to the refresh
endpoint, so browser scripts never see it and no other URL receives it. Reading it is a
cookie-authenticated state change, so the refresh endpoint then enforces Django's CSRF check
(the login response sets Django's ``csrftoken`` cookie for the client to echo in
``X-CSRFToken``).

Login that sets the cookie is guarded too (login CSRF: an attacker's page must not sign the
victim's browser into the attacker's account). It cannot ask for the CSRF token, which the
browser may not have yet, so it takes what a browser cannot be made to send cross-site
without the site's consent: a JSON body (a cross-origin JSON POST needs a CORS preflight) from
the site's own origin or one of ``CSRF_TRUSTED_ORIGINS`` when an ``Origin`` is sent.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.urls import reverse
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext_lazy as _

from .conf import doubletoken_settings
from .endpoints.answers import Refusal
from .errors import CSRF_FAILED, UNSUPPORTED_MEDIA_TYPE


def enabled_for(client: str) -> bool:
    name = doubletoken_settings.REFRESH_COOKIE_NAME
    return bool(name) and client in doubletoken_settings.REFRESH_COOKIE_CLIENTS


def _path() -> str:
    return doubletoken_settings.REFRESH_COOKIE_PATH or reverse("django_doubletoken:refresh")


def set_refresh_cookie(
    response: HttpResponseBase, token: str, max_age: int, path: str | None = None
) -> None:
    """``path``: the refresh endpoint's URL when it is not the DRF one (the Ninja router)."""
    response.set_cookie(
        doubletoken_settings.REFRESH_COOKIE_NAME,
        token,
        max_age=max(0, max_age),
        path=doubletoken_settings.REFRESH_COOKIE_PATH or path or _path(),
        domain=doubletoken_settings.REFRESH_COOKIE_DOMAIN,
        secure=doubletoken_settings.REFRESH_COOKIE_SECURE,
        httponly=True,
        samesite=doubletoken_settings.REFRESH_COOKIE_SAMESITE,
    )


def delete_refresh_cookie(response: HttpResponseBase, path: str | None = None) -> None:
    if doubletoken_settings.REFRESH_COOKIE_NAME:
        response.delete_cookie(
            doubletoken_settings.REFRESH_COOKIE_NAME,
            path=doubletoken_settings.REFRESH_COOKIE_PATH or path or _path(),
            domain=doubletoken_settings.REFRESH_COOKIE_DOMAIN,
            samesite=doubletoken_settings.REFRESH_COOKIE_SAMESITE,
        )


def _csrf_middleware() -> CsrfViewMiddleware:
    # A new one per request: it caches CSRF_TRUSTED_ORIGINS when first read.
    return CsrfViewMiddleware(lambda request: None)


def refresh_token_from_cookie(request: HttpRequest) -> str | None:
    """The refresh cookie's token after a passing CSRF check; None when there is no cookie."""
    name = doubletoken_settings.REFRESH_COOKIE_NAME
    token = request.COOKIES.get(name) if name else None
    if not token:
        return None
    reason = _csrf_middleware().process_view(request, None, (), {})
    if reason is not None:
        # process_view answers with a 403 response; the reason is on the request log only.
        raise Refusal.coded(CSRF_FAILED, _("CSRF check failed: send the csrftoken "
                                                "cookie's value in the X-CSRFToken header."))
    return token


def refuse_cross_site_login(request: HttpRequest) -> None:
    """Refuse a login that would set the refresh cookie unless a cross-site page could not
    have sent it. Raises a ``Refusal``: 415 ``unsupported_media_type`` for a body other than
        JSON, which a plain HTML form or a preflight-free fetch can send; 403 ``csrf_failed`` for
    an ``Origin`` that is neither this site nor one of ``CSRF_TRUSTED_ORIGINS`` (Django's own
    origin check, the one the refresh endpoint makes)."""
    content_type = request.META.get("CONTENT_TYPE", "")
    media_type, _params = parse_header_parameters(content_type)
    if media_type != "application/json":
        raise Refusal.coded(UNSUPPORTED_MEDIA_TYPE, _(
            "With the refresh cookie, log in with a JSON body (Content-Type: application/json)."
        ))
    if "HTTP_ORIGIN" in request.META and not _csrf_middleware()._origin_verified(request):
        raise Refusal.coded(CSRF_FAILED, _(
            "CSRF check failed: the Origin is not this site or a trusted origin."
        ))


def ensure_csrf_cookie(request: HttpRequest) -> None:
    """Make CsrfViewMiddleware set the csrftoken cookie on this response."""
    get_token(request)
