"""The auth endpoints as a Ninja router: each operation adapts one face-neutral endpoint of
``django_doubletoken.endpoints``, the ones the DRF views adapt, so both faces answer alike.

The operations read their body through the endpoints (not through Ninja's payload parsing), so
the body rules are the app's: JSON or forms, size and depth limits, 415 for other media types.
The schemas below only document the operations in the API's OpenAPI page.

``auth_router()`` returns a new router each time, so that one project can mount it in
several APIs (older Ninja versions refuse to mount one router twice).
"""

from __future__ import annotations

import copy
import inspect
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.constants import NOT_SET
from pydantic import Field, create_model

from .. import endpoints
from ..endpoints import Answer, Refusal
from ..http import DEFAULT_REALM, bearer_challenge
from .auth import DoubleTokenAuth


class RefreshIn(Schema):
    refresh: str | None = Field(
        None, description="Omit with cookie transport: the refresh cookie is read instead.")


class VerifyIn(Schema):
    token: str


class TokenPairOut(Schema):
    access: str
    refresh: str | None = Field(
        None, description="Absent with cookie transport: it is in an HttpOnly cookie.")
    token_type: str = "Bearer"
    access_expires_at: datetime
    refresh_expires_at: datetime
    session_id: uuid.UUID


class VerifyOut(Schema):
    valid: bool
    session_id: uuid.UUID
    expires_at: datetime = Field(description="When the access token expires.")


class DeviceSessionOut(Schema):
    id: uuid.UUID
    client: str
    device: str
    ip: str | None
    user_agent: str
    created_at: datetime
    last_used_at: datetime
    auth_time: datetime | None = Field(
        description="When the user last proved who they are on this device (login or "
                    "re-authentication).")
    acr: str
    amr: list[str]
    current: bool


class ReauthenticateIn(Schema):
    password: str | None = Field(None, description="The user's password (method \"password\").")
    method: str = Field("password", description="A method of REAUTHENTICATION_METHODS, whose "
                        "verifier reads the other fields it needs.")


class LogoutOthersOut(Schema):
    revoked: int = Field(description="How many other sessions were signed out.")


class JWKSOut(Schema):
    keys: list[dict[str, Any]]


class ErrorOut(Schema):
    detail: str
    code: str


def login_schema() -> type[Schema]:
    """The login body as documented: the user model's ``USERNAME_FIELD`` (``username`` is
    accepted for it too), ``password``, optional ``device`` and ``client``."""
    field = get_user_model().USERNAME_FIELD
    return create_model(
        "LoginIn", __base__=Schema,
        **{field: (str, Field(description="The user model's USERNAME_FIELD."))},
        password=(str, ...), device=(str, ""), client=(str | None, None),
    )


def _request_body(schema: type[Schema]) -> dict[str, Any]:
    body = {"schema": schema.model_json_schema()}
    return {"requestBody": {"required": True, "content": {
        "application/json": body, "application/x-www-form-urlencoded": body}}}


def _refresh_path(request: HttpRequest) -> str:
    """This router's refresh URL, where the refresh cookie is sent (and nowhere else)."""
    return request.path[: request.path.rstrip("/").rfind("/") + 1] + "refresh/"


def _respond(request: HttpRequest, run: Callable[[], Answer]) -> HttpResponse:
    try:
        answer = run()
    except Refusal as refusal:
        answer = refusal.answer
    return answer.as_response(request)


def _endpoint(cls: type[endpoints.Endpoint], request: HttpRequest,
              challenge: str) -> endpoints.Endpoint:
    attributes: dict[str, Any] = {"challenge": challenge}
    if hasattr(cls, "refresh_path"):
        attributes["refresh_path"] = _refresh_path(request)
    return cls(**attributes)


SESSION_OPERATIONS = frozenset({"logout", "logout-all", "logout-others", "reauthenticate",
                                "sessions", "session"})
FAILURES = {400: dict, 401: ErrorOut, 403: ErrorOut, 413: ErrorOut, 415: ErrorOut,
            503: ErrorOut}


def auth_router(*, auth: Any = None, tags: list[str] | None = None,
                login: endpoints.Login | None = None,
                auth_for: dict[str, Any] | None = None) -> Router:
    """A router with login, refresh, verify, jwks, logout, logout-all, logout-others,
    reauthenticate and the session endpoints.

    ``auth``: the authentication of the endpoints acting on the caller's session, by default
    ``DoubleTokenAuth()`` (``AsyncDoubleTokenAuth()`` works too); its
    ``www_authenticate_realm`` names the realm of every challenge. ``login``: the login
    endpoint, e.g. ``endpoints.Login(serializer_class=...)`` or a subclass overriding
    ``get_response_data``. ``auth_for``: another auth for some of the session operations, by
    URL name, e.g. ``{"logout-others": StepUpAuth(max_age=300)}`` (a step-up guard).
    """
    session_auth = auth or DoubleTokenAuth()
    challenge = bearer_challenge(getattr(session_auth, "www_authenticate_realm", DEFAULT_REALM))
    router = Router(tags=tags or ["auth"])
    _add_public_operations(router, challenge, login or endpoints.Login())
    _add_session_operations(router, challenge, session_auth, auth_for or {})
    _answer_other_methods(router)
    return router


# Every method a client may try on an endpoint that takes another (HEAD and OPTIONS too, or
# Ninja's page would list these fallbacks' methods as allowed).
TRIED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _answer_other_methods(router: Router) -> None:
    """Answer a method an endpoint does not take as the DRF views do: a 405 in the error
    contract (``method_not_allowed``, with ``Allow``), not Ninja's plain-text page."""
    # Fallbacks are added after every operation, so each path's own operations are known.
    for path, view in list(router.path_operations.items()):
        allowed = sorted({method for op in view.operations for method in op.methods})
        others = [method for method in TRIED_METHODS if method not in allowed]
        if not others:
            continue

        # The endpoint's own authentication first, as DRF runs it before the method check:
        # without a token the answer is the 401, on both faces.
        auth = view.operations[0].auth_param
        router.add_api_operation(path, others, _not_allowed_view(path, allowed),
                                 auth=None if auth is NOT_SET else auth,
                                 include_in_schema=False)


def _not_allowed_view(path: str, allowed: list[str]) -> Callable[..., HttpResponse]:
    def not_allowed(request: HttpRequest, **path_parameters: str) -> HttpResponse:
        return Refusal.method_not_allowed(request.method, allowed).answer.as_response(request)

    # Ninja reads a view's parameters from its signature: the path's, taken as strings.
    names = re.findall(r"{(?:\w+:)?(\w+)}", path)
    not_allowed.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        *(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=str)
          for name in names),
    ])
    return not_allowed


def _add_public_operations(router: Router, challenge: str, login: endpoints.Login) -> None:
    @router.post("login/", auth=None, response={200: TokenPairOut, 429: ErrorOut, **FAILURES},
                 summary="Log in: open a device session", url_name="login",
                 openapi_extra=_request_body(login_schema()))
    def login_operation(request: HttpRequest):
        here = copy.copy(login)  # the project's instance stays as it was given
        here.challenge = challenge
        here.refresh_path = here.refresh_path or _refresh_path(request)
        return _respond(request, lambda: here(request))

    @router.post("refresh/", auth=None, response={200: TokenPairOut, **FAILURES},
                 summary="Rotate the refresh token", url_name="refresh",
                 openapi_extra=_request_body(RefreshIn))
    def refresh(request: HttpRequest):
        return _respond(request, lambda: _endpoint(endpoints.Refresh, request, challenge)(request))

    @router.post("verify/", auth=None, response={200: VerifyOut, **FAILURES},
                 summary="Check an access token, revocation included", url_name="verify",
                 openapi_extra=_request_body(VerifyIn))
    def verify(request: HttpRequest):
        return _respond(request, lambda: _endpoint(endpoints.Verify, request, challenge)(request))

    @router.get("jwks/", auth=None, response={200: JWKSOut, 404: ErrorOut},
                summary="Public keys (asymmetric algorithms only)", url_name="jwks")
    def jwks(request: HttpRequest):
        return _respond(request, lambda: _endpoint(endpoints.JWKS, request, challenge)(request))


def _add_session_operations(router: Router, challenge: str, default_auth: Any,
                            auth_for: dict[str, Any]) -> None:
    unknown = set(auth_for) - SESSION_OPERATIONS
    if unknown:
        raise ValueError(f"auth_for names no session operation: {', '.join(sorted(unknown))}; "
                         f"they are {', '.join(sorted(SESSION_OPERATIONS))}.")

    def on_session(cls: type[endpoints.Endpoint], request: HttpRequest,
                   *args: Any) -> HttpResponse:
        return _respond(request, lambda: _endpoint(cls, request, challenge)(
            request, request.auth, *args))

    @router.post("logout/", auth=auth_for.get("logout", default_auth),
                 response={204: None, **FAILURES},
                 summary="Log this device out", url_name="logout")
    def logout(request: HttpRequest):
        return on_session(endpoints.Logout, request)

    @router.post("logout-all/", auth=auth_for.get("logout-all", default_auth),
                 response={204: None, **FAILURES},
                 summary="Log every device of the user out", url_name="logout-all")
    def logout_all(request: HttpRequest):
        return on_session(endpoints.LogoutAll, request)

    @router.post("logout-others/", auth=auth_for.get("logout-others", default_auth),
                 response={200: LogoutOthersOut, **FAILURES},
                 summary="Log every other device of the user out", url_name="logout-others")
    def logout_others(request: HttpRequest):
        return on_session(endpoints.LogoutOthers, request)

    @router.post("reauthenticate/", auth=auth_for.get("reauthenticate", default_auth),
                 response={200: TokenPairOut, 429: ErrorOut, **FAILURES},
                 summary="Prove the user's identity again: a fresh auth_time on this session",
                 url_name="reauthenticate", openapi_extra=_request_body(ReauthenticateIn))
    def reauthenticate(request: HttpRequest):
        return on_session(endpoints.Reauthenticate, request)

    @router.get("sessions/", auth=auth_for.get("sessions", default_auth),
                response={200: list[DeviceSessionOut], **FAILURES},
                summary="The user's signed-in devices", url_name="sessions")
    def sessions(request: HttpRequest):
        return on_session(endpoints.SessionList, request)

    @router.delete("sessions/{session_id}/", auth=auth_for.get("session", default_auth),
                   response={204: None, 404: ErrorOut, **FAILURES},
                   summary="Log one of the user's devices out", url_name="session")
    def delete_session(request: HttpRequest, session_id: str):
        return on_session(endpoints.SessionDelete, request, session_id)
