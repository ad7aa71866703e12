"""The auth endpoints as a Ninja router, on the same services as the DRF views.

``auth_router()`` returns a new router each time, so that one project can mount it in
several APIs (older Ninja versions refuse to mount one router twice).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from django.contrib.auth import authenticate
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import Field, field_validator
from rest_framework.exceptions import APIException

from .. import cookies, services
from ..api_errors import APIError
from ..conf import doubletoken_settings
from ..errors import INVALID_CREDENTIALS, DoubleTokenError, ServiceUnavailable, TokenError
from ..http import remote_ip, user_agent
from ..models import DeviceSession, RevokeReason
from ..serializers import token_pair_body
from ..throttling import LoginRateThrottle
from .auth import DoubleTokenAuth, NinjaTokenError

try:
    from ninja import Status
except ImportError:  # django-ninja < 1.6 takes (status, body) tuples
    def Status(status_code: int, value: Any) -> tuple[int, Any]:  # noqa: N802
        return status_code, value

T = TypeVar("T")

# RFC 6749 §5.1: responses carrying tokens must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _bounded_token(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ValueError("This field may not be blank.")
    if len(value) > doubletoken_settings.MAX_TOKEN_LENGTH:
        raise ValueError("The token is too long.")
    return value


class LoginIn(Schema):
    username: str = Field(max_length=254)
    password: str = Field(max_length=4096)
    device: str = Field("", max_length=200)
    client: str | None = Field(None, max_length=32)

    @field_validator("client")
    @classmethod
    def known_client(cls, value: str | None) -> str | None:
        if value is not None and value not in doubletoken_settings.CLIENT_PROFILES:
            names = ", ".join(sorted(doubletoken_settings.CLIENT_PROFILES))
            raise ValueError(f"Unknown client profile; expected one of: {names}.")
        return value


class RefreshIn(Schema):
    refresh: str | None = Field(
        None, description="Omit with cookie transport: the refresh cookie is read instead."
    )

    @field_validator("refresh")
    @classmethod
    def bounded(cls, value: str | None) -> str | None:
        return _bounded_token(value)


class VerifyIn(Schema):
    token: str

    @field_validator("token")
    @classmethod
    def bounded(cls, value: str) -> str:
        return _bounded_token(value)


class TokenPairOut(Schema):
    access: str
    refresh: str | None = Field(
        None, description="Absent with cookie transport: it is in an HttpOnly cookie."
    )
    token_type: str = "Bearer"
    access_expires_at: datetime
    refresh_expires_at: datetime
    session_id: uuid.UUID


class VerifyOut(Schema):
    valid: bool
    session_id: uuid.UUID
    expires_at: int = Field(description="Unix time")


class DeviceSessionOut(Schema):
    id: uuid.UUID
    client: str
    device: str
    ip: str | None
    user_agent: str
    created_at: datetime
    last_used_at: datetime
    current: bool


class ErrorOut(Schema):
    detail: str
    code: str


def _call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A call whose refusals Ninja renders: domain errors (``NinjaTokenError``), and the DRF
    exceptions of the helpers shared with the DRF views (the login throttle with its store
    down, the cookie transport's CSRF and media-type checks)."""
    try:
        return function(*args, **kwargs)
    except DoubleTokenError as exc:
        raise NinjaTokenError(exc) from exc
    except APIError as exc:
        error = ServiceUnavailable if exc.status_code == 503 else TokenError
        raise NinjaTokenError(error(exc.code)) from exc
    except APIException as exc:
        raise HttpError(exc.status_code, str(exc.detail)) from exc


def _refresh_path(request: HttpRequest) -> str:
    """This router's refresh URL, where the refresh cookie is sent (and nowhere else)."""
    return request.path[: request.path.rstrip("/").rfind("/") + 1] + "refresh/"


def _tokens(pair: services.TokenPair, request: HttpRequest, response: HttpResponse,
            *, use_cookie: bool) -> dict[str, Any]:
    """The pair as the body; with cookie transport the refresh token goes in the cookie only."""
    for name, value in NO_STORE.items():
        response[name] = value
    body = token_pair_body(pair)
    if use_cookie:
        max_age = int((pair.refresh_expires_at - timezone.now()).total_seconds())
        cookies.set_refresh_cookie(response, body.pop("refresh"), max_age, _refresh_path(request))
        cookies.ensure_csrf_cookie(request)
    return body


def _logged_out(request: HttpRequest, response: HttpResponse) -> Any:
    cookies.delete_refresh_cookie(response, _refresh_path(request))
    return Status(204, None)


def _login(request: HttpRequest, response: HttpResponse, payload: LoginIn) -> dict[str, Any]:
    if not _call(LoginRateThrottle().allow_request, request, None):
        raise HttpError(429, "Request was throttled.")
    client = payload.client or doubletoken_settings.DEFAULT_CLIENT
    use_cookie = cookies.enabled_for(client)
    if use_cookie:  # login CSRF, as the DRF endpoint refuses it
        _call(cookies.refuse_cross_site_login, request)
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None:
        raise NinjaTokenError(TokenError(INVALID_CREDENTIALS))
    pair = _call(services.login, user, client=payload.client, device=payload.device,
                 ip=remote_ip(request), user_agent=user_agent(request), request=request)
    return _tokens(pair, request, response, use_cookie=use_cookie)


def _refresh(request: HttpRequest, response: HttpResponse, payload: RefreshIn
             ) -> dict[str, Any]:
    raw, from_cookie = payload.refresh, False
    if raw is None:
        raw = _call(cookies.refresh_token_from_cookie, request)
        from_cookie = raw is not None
    if raw is None:
        raise HttpError(400, "The refresh token is required.")
    pair = _call(services.refresh, raw, request=request)
    return _tokens(pair, request, response, use_cookie=from_cookie)


def auth_router(*, auth: Any = None, tags: list[str] | None = None) -> Router:
    """A router with login, refresh, verify, logout, logout-all and the session endpoints.

    ``auth``: the authentication of the endpoints acting on the caller's session, by default
    ``DoubleTokenAuth()`` (``AsyncDoubleTokenAuth()`` works too).
    """
    session_auth = auth or DoubleTokenAuth()
    router = Router(tags=tags or ["auth"])
    failures = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 415: ErrorOut, 503: ErrorOut}

    @router.post("login/", auth=None, response={200: TokenPairOut, 429: ErrorOut, **failures},
                 summary="Log in: open a device session", url_name="login", exclude_none=True)
    def login(request: HttpRequest, response: HttpResponse, payload: LoginIn):
        return _login(request, response, payload)

    @router.post("refresh/", auth=None, response={200: TokenPairOut, **failures},
                 summary="Rotate the refresh token", url_name="refresh", exclude_none=True)
    def refresh(request: HttpRequest, response: HttpResponse, payload: RefreshIn):
        return _refresh(request, response, payload)

    @router.post("verify/", auth=None, response={200: VerifyOut, **failures},
                 summary="Check an access token, revocation included", url_name="verify")
    def verify(request: HttpRequest, payload: VerifyIn):
        grant = _call(services.authenticate_access, payload.token)
        return {"valid": True, "session_id": grant.session_id, "expires_at": grant.claims.exp}

    @router.post("logout/", auth=session_auth, response={204: None, **failures},
                 summary="Log this device out", url_name="logout")
    def logout(request: HttpRequest, response: HttpResponse):
        _call(services.revoke_session, request.auth.session_id, RevokeReason.LOGOUT)
        return _logged_out(request, response)

    @router.post("logout-all/", auth=session_auth, response={204: None, **failures},
                 summary="Log every device of the user out", url_name="logout-all")
    def logout_all(request: HttpRequest, response: HttpResponse):
        _call(services.revoke_user_sessions, request.user.pk, RevokeReason.LOGOUT_ALL)
        return _logged_out(request, response)

    @router.get("sessions/", auth=session_auth,
                response={200: list[DeviceSessionOut], **failures},
                summary="The user's signed-in devices", url_name="sessions")
    def sessions(request: HttpRequest):
        current = request.auth.session_id
        rows = DeviceSession.objects.active().filter(user_id=request.user.pk)
        return [{"id": s.pk, "client": s.client, "device": s.device, "ip": s.ip,
                 "user_agent": s.user_agent, "created_at": s.created_at,
                 "last_used_at": s.last_used_at, "current": str(s.pk) == current}
                for s in rows]

    @router.delete("sessions/{session_id}/", auth=session_auth,
                   response={204: None, 404: ErrorOut, **failures},
                   summary="Log one of the user's devices out", url_name="session")
    def delete_session(request: HttpRequest, session_id: str):
        try:
            uuid.UUID(session_id)
        except ValueError:
            raise Http404 from None
        mine = DeviceSession.objects.filter(pk=session_id, user_id=request.user.pk)
        if not mine.exists():
            raise Http404
        _call(services.revoke_sessions, mine, RevokeReason.REMOVED_BY_USER)
        return Status(204, None)

    return router
