"""The endpoints acting on the caller's own session (the ``AccessGrant`` of its access token).

Log out this session, every session of the user, or every other one; re-authenticate the
session (RFC 9470 step-up) for a new pair; list the user's active sessions and remove one.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest

from .. import cookies, reauthentication, services
from ..errors import INVALID_CREDENTIALS, TokenError
from ..models import DeviceSession, RevokeReason
from .answers import NO_STORE, Answer, Refusal, token_pair_body
from .base import Endpoint, pair_answer
from .body import request_data
from .fields import InvalidInput, invalid_input, reauthentication_method
from .throttle import ReauthenticationThrottle


class SessionEndpoint(Endpoint):
    """Endpoints acting on the session of the request's access token (``grant``)."""

    refresh_path: str | None = None

    def logged_out(self) -> Answer:
        path = self.refresh_path
        return Answer(204, None, dict(NO_STORE), [
            lambda response, request: cookies.delete_refresh_cookie(response, path)])


class Logout(SessionEndpoint):
    def __call__(self, request: HttpRequest, grant: services.AccessGrant) -> Answer:
        with self.refusing():
            services.revoke_session(grant.session_id, RevokeReason.LOGOUT)
        return self.logged_out()


class LogoutAll(SessionEndpoint):
    def __call__(self, request: HttpRequest, grant: services.AccessGrant) -> Answer:
        with self.refusing():
            services.revoke_user_sessions(services.user_pk(grant.claims.sub),
                                          RevokeReason.LOGOUT_ALL)
        return self.logged_out()


class LogoutOthers(SessionEndpoint):
    """``POST logout-others/``: every other session of the caller's user is revoked (their
    next request is refused, their sockets closed); the caller's own goes on untouched.
    Answers ``{"revoked": <how many>}``."""

    def __call__(self, request: HttpRequest, grant: services.AccessGrant) -> Answer:
        with self.refusing():
            revoked = services.revoke_other_sessions(
                services.user_pk(grant.claims.sub), grant.session_id)
        return Answer(200, {"revoked": revoked}, dict(NO_STORE))


class Reauthenticate(SessionEndpoint):
    """``POST reauthenticate/``: the caller's session proves its user again (the password, or
    a method of ``REAUTHENTICATION_METHODS`` named by ``method``) and gets a new pair on the
    same session, with a fresh ``auth_time`` and the method's ``acr`` / ``amr``. Throttled per
    session at ``LOGIN_THROTTLE_RATE``; a failed proof is a 401 ``invalid_credentials`` that
    leaves the session as it was."""

    throttle_class: type[ReauthenticationThrottle] | None = ReauthenticationThrottle

    def throttle(self, request: HttpRequest, grant: services.AccessGrant) -> None:
        if self.throttle_class is None:
            return
        with self.refusing():
            wait = self.throttle_class(grant.session_id).wait(request)
        if wait is not None:
            raise Refusal.throttled(wait)

    def __call__(self, request: HttpRequest, grant: services.AccessGrant) -> Answer:
        self.throttle(request, grant)
        data = request_data(request)
        try:
            method = reauthentication_method(data)
            with self.refusing():
                user = services.session_user(grant)
                try:
                    verified = reauthentication.verify(method, request, user, data)
                except ValidationError as error:  # the verifier's own input rules
                    raise invalid_input(error) from None
                if not verified:
                    raise TokenError(INVALID_CREDENTIALS)
                pair = services.reauthenticate(grant.session_id, user, acr=method.acr,
                                               amr=method.amr, request=request)
        except InvalidInput as invalid:
            raise Refusal.invalid(invalid.errors) from None
        # The session's refresh token rotated: a cookie client gets the new one there.
        return pair_answer(pair, token_pair_body(pair),
                           use_cookie=cookies.enabled_for(grant.claims.client),
                           refresh_path=self.refresh_path)


def session_row(session: DeviceSession, current_session_id: str) -> dict[str, Any]:
    return {
        "id": str(session.pk),
        "client": session.client,
        "device": session.device,
        "ip": session.ip,
        "user_agent": session.user_agent,
        "created_at": session.created_at.isoformat(),
        "last_used_at": session.last_used_at.isoformat(),
        # When and how the user last proved who they are on this device (RFC 9470).
        "auth_time": session.auth_time.isoformat() if session.auth_time else None,
        "acr": session.acr,
        "amr": session.amr.split(),
        "current": str(session.pk) == current_session_id,
    }


class SessionList(SessionEndpoint):
    def __call__(self, request: HttpRequest, grant: services.AccessGrant) -> Answer:
        with self.refusing():
            rows = list(DeviceSession.objects.active().filter(
                user_id=services.user_pk(grant.claims.sub)))
        return Answer(200, [session_row(row, grant.session_id) for row in rows], dict(NO_STORE))


class SessionDelete(SessionEndpoint):
    """``DELETE sessions/<id>/``: one of the caller's own sessions; 404 for any other id."""

    def __call__(self, request: HttpRequest, grant: services.AccessGrant,
                 session_id: str) -> Answer:
        try:
            uuid.UUID(session_id)
        except ValueError:
            raise Refusal.not_found() from None
        with self.refusing():
            mine = DeviceSession.objects.filter(
                pk=session_id, user_id=services.user_pk(grant.claims.sub))
            if not mine.exists():
                raise Refusal.not_found()
            services.revoke_sessions(mine, RevokeReason.REMOVED_BY_USER)
        return Answer(204, None, dict(NO_STORE))
