"""Cookie transport for the refresh token (opt-in with ``REFRESH_COOKIE_NAME``).

The refresh token is set as an ``HttpOnly; Secure; SameSite`` cookie scoped to the refresh
endpoint, so browser scripts never see it and no other URL receives it. Reading it is a
cookie-authenticated state change, so the refresh endpoint then enforces Django's CSRF check
(the login response sets Django's ``csrftoken`` cookie for the client to echo in
``X-CSRFToken``).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.urls import reverse
from rest_framework.exceptions import PermissionDenied

from .conf import api_settings


def enabled_for(client: str) -> bool:
    name = api_settings.REFRESH_COOKIE_NAME
    return bool(name) and client in api_settings.REFRESH_COOKIE_CLIENTS


def _path() -> str:
    return api_settings.REFRESH_COOKIE_PATH or reverse("django_doubletoken:refresh")


def set_refresh_cookie(
    response: HttpResponseBase, token: str, max_age: int, path: str | None = None
) -> None:
    """``path``: the refresh endpoint's URL when it is not the DRF one (the Ninja router)."""
    response.set_cookie(
        api_settings.REFRESH_COOKIE_NAME,
        token,
        max_age=max(0, max_age),
        path=api_settings.REFRESH_COOKIE_PATH or path or _path(),
        domain=api_settings.REFRESH_COOKIE_DOMAIN,
        secure=api_settings.REFRESH_COOKIE_SECURE,
        httponly=True,
        samesite=api_settings.REFRESH_COOKIE_SAMESITE,
    )


def delete_refresh_cookie(response: HttpResponseBase, path: str | None = None) -> None:
    if api_settings.REFRESH_COOKIE_NAME:
        response.delete_cookie(
            api_settings.REFRESH_COOKIE_NAME,
            path=api_settings.REFRESH_COOKIE_PATH or path or _path(),
            domain=api_settings.REFRESH_COOKIE_DOMAIN,
            samesite=api_settings.REFRESH_COOKIE_SAMESITE,
        )


def refresh_token_from_cookie(request: HttpRequest) -> str | None:
    """The refresh cookie's token after a passing CSRF check; None when there is no cookie."""
    name = api_settings.REFRESH_COOKIE_NAME
    token = request.COOKIES.get(name) if name else None
    if not token:
        return None
    reason = CsrfViewMiddleware(lambda req: None).process_view(request, None, (), {})
    if reason is not None:
        # process_view answers with a 403 response; the reason is on the request log only.
        raise PermissionDenied("CSRF check failed: send the csrftoken cookie's value in "
                               "the X-CSRFToken header.")
    return token


def ensure_csrf_cookie(request: HttpRequest) -> None:
    """Make CsrfViewMiddleware set the csrftoken cookie on this response."""
    get_token(request)
