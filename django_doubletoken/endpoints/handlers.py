"""The auth endpoints themselves, once for every face: input rules, the service call, the answer.

Each endpoint is a small class called with the Django ``HttpRequest`` (and, for the endpoints
acting on the caller's session, the ``AccessGrant`` the face's authentication produced); it
returns an ``Answer`` or raises a ``Refusal``. The DRF views (``django_doubletoken.views``) and
the Ninja router (``django_doubletoken.ninja``) only turn those into their response objects, so
the two answer alike by construction. Attributes can be set per instance (``Login(
serializer_class=...)``) or in a subclass, as on Django's views.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import cookies, dpop, reauthentication, services, store
from ..conf import doubletoken_settings
from ..errors import INVALID_CREDENTIALS, DoubleTokenError, TokenError
from ..http import bearer_challenge, proof_request, remote_ip, user_agent
from ..keys import key_ring
from ..models import DeviceSession, RevokeReason
from ..services.binding import bound_context
from ..services.common import database_available, from_unix
from .answers import NO_STORE, Answer, Refusal, token_pair_body
from .body import request_data
from .fields import InvalidInput, invalid_input, reauthentication_method, token_field
from .throttle import LoginThrottle, ReauthenticationThrottle, note_refused, recently_refused


class Endpoint:
    # The WWW-Authenticate challenge of this endpoint's 401s (the face passes its realm's).
    challenge: str = bearer_challenge()
    # Login and refresh (RFC 9449 §8: a use_dpop_nonce there is a 400).
    token_endpoint = False

    def __init__(self, **attributes: Any) -> None:
        for name, value in attributes.items():
            if not hasattr(type(self), name):
                raise TypeError(f"{type(self).__name__} has no attribute {name!r}")
            setattr(self, name, value)

    @contextmanager
    def refusing(self) -> Iterator[None]:
        """Domain errors (refused tokens, a store down) as the error contract's refusals."""
        try:
            with database_available():
                yield
        except DoubleTokenError as error:
            raise Refusal.for_error(error, self.challenge,
                                    token_endpoint=self.token_endpoint) from error


def pair_answer(pair: services.TokenPair, body: dict[str, Any], *,
                      use_cookie: bool, refresh_path: str | None) -> Answer:
    """The pair's body; with cookie transport its refresh token goes in the cookie only."""
    answer = Answer(200, body, dict(NO_STORE))
    if doubletoken_settings.DPOP_NONCE and dpop.enabled():  # the next proof's (RFC 9449 §8)
        answer.headers[dpop.NONCE_HEADER] = dpop.current_nonce()
    if use_cookie:
        body.pop("refresh", None)
        max_age = int((pair.refresh_expires_at - timezone.now()).total_seconds())
        answer.finishers += [
            lambda response, request: cookies.set_refresh_cookie(
                response, pair.refresh, max_age, refresh_path),
            lambda response, request: cookies.ensure_csrf_cookie(request),
        ]
    return answer


class Login(Endpoint):
    """``POST login/``: body, the login serializer, ``services.login``, the throttle counted
    with the session's write (or before the body for a client refused lately)."""

    # A serializer class (DRF's protocol: ``cls(data=..., context=...)``, ``is_valid()``,
    # ``errors``, ``validated_data`` with ``user`` and optionally ``device``, ``client``);
    # None: the LOGIN_SERIALIZER setting.
    serializer_class: type | None = None
    throttle_class: type[LoginThrottle] | None = LoginThrottle
    # The URL of the refresh endpoint the refresh cookie is scoped to; None: the DRF one.
    refresh_path: str | None = None
    # Called as get_response_data(pair, user, request) when set: a view's own hook.
    response_data: Callable[[services.TokenPair, Any, Any], dict[str, Any]] | None = None
    # The request the serializer sees in its context (the face's request object).
    context_request: Any = None
    token_endpoint = True

    def get_serializer_class(self) -> type:
        return self.serializer_class or doubletoken_settings.LOGIN_SERIALIZER

    def get_response_data(self, pair: services.TokenPair, user: Any, request: Any
                          ) -> dict[str, Any]:
        """The body of a successful login; override (or pass ``response_data``) to add to it."""
        if self.response_data is not None:
            return self.response_data(pair, user, request)
        return token_pair_body(pair)

    def throttle(self, request: HttpRequest) -> store.ThrottleHit | None:
        """The throttle's count for this request, to be taken with the new session's write
        (one round trip); or, for a client this worker refused lately or a throttle class of
        the project's own, taken now, before the credentials (then None)."""
        if self.throttle_class is None:
            return None
        throttle = self.throttle_class()
        together = getattr(self.throttle_class, "counts_with_the_session", None)
        hit = throttle.hit(request) if together is not None and together() else None
        if hit is not None and not recently_refused(hit):
            return hit
        with self.refusing():
            wait = throttle.wait(request)
        if wait is not None:
            raise Refusal.throttled(wait)
        return None

    def count_refused(self, hit: store.ThrottleHit | None) -> None:
        """A login refused before its session: counted all the same (DRF counts every request
        it lets through), and answered 429 instead when over the rate, whatever the reason
        was (a throttled client learns nothing about its guesses)."""
        if hit is None:
            return
        with self.refusing():
            wait = store.count_request(hit)
        note_refused(hit, wait)
        if wait is not None:
            raise Refusal.throttled(wait)

    def __call__(self, request: HttpRequest) -> Answer:
        hit = self.throttle(request)
        face_request = self.context_request or request
        try:
            data = request_data(request)
            with self.refusing():
                serializer = self.get_serializer_class()(
                    data=data, context={"request": face_request, "view": self})
                if not serializer.is_valid():
                    raise Refusal.invalid(serializer.errors)
            validated = serializer.validated_data
            user, client = validated["user"], validated.get("client")
            use_cookie = cookies.enabled_for(client or doubletoken_settings.DEFAULT_CLIENT)
            if use_cookie:  # login CSRF: refused before any session is opened
                cookies.refuse_cross_site_login(request)
            with self.refusing():
                # How the user authenticated; DPoP binds the session to the proof's key.
                context = bound_context(client, proof_request(request),
                                        reauthentication.login_context(validated))
        except Refusal:
            self.count_refused(hit)
            raise
        with self.refusing():
            try:
                pair = services.login(user, client=client, device=validated.get("device") or "",
                                      ip=remote_ip(request), user_agent=user_agent(request),
                                      request=request, context=context, throttle=hit)
            except store.Throttled as over:
                note_refused(hit, over.wait)
                raise Refusal.throttled(over.wait) from None
        body = self.get_response_data(pair, user, face_request)
        return pair_answer(pair, body, use_cookie=use_cookie,
                                 refresh_path=self.refresh_path)


class Refresh(Endpoint):
    """``POST refresh/``: the refresh token from the body, or else from its cookie."""

    refresh_path: str | None = None
    token_endpoint = True

    def __call__(self, request: HttpRequest) -> Answer:
        data = request_data(request)
        from_cookie = False
        if isinstance(data, dict) and "refresh" not in data:
            raw = cookies.refresh_token_from_cookie(request)
            if raw is not None:
                data, from_cookie = {"refresh": raw}, True
        try:
            token = token_field(data, "refresh")
        except InvalidInput as invalid:
            raise Refusal.invalid(invalid.errors) from None
        with self.refusing():
            pair = services.refresh(token, request=request, proof=proof_request(request))
        return pair_answer(pair, token_pair_body(pair), use_cookie=from_cookie,
                                 refresh_path=self.refresh_path)


class Verify(Endpoint):
    """``POST verify/``: an access token checked exactly as authentication checks it."""

    def __call__(self, request: HttpRequest) -> Answer:
        try:
            token = token_field(request_data(request), "token")
        except InvalidInput as invalid:
            raise Refusal.invalid(invalid.errors) from None
        # A bound token is verified with a proof of its key (its ath that token's hash).
        proof = proof_request(request) if dpop.enabled() else None
        with self.refusing():
            grant = services.authenticate_access(token, proof=proof)
        expires = from_unix(grant.claims.exp)
        body = {"valid": True, "session_id": grant.session_id, "expires_at": expires.isoformat()}
        return Answer(200, body, dict(NO_STORE))


class JWKS(Endpoint):
    """``GET jwks/``: the public keys of an asymmetric algorithm (RFC 7517); 404 with HMAC."""

    def __call__(self, request: HttpRequest) -> Answer:
        ring = key_ring()
        if not ring.asymmetric:
            raise Refusal.not_found(_("No public keys: the signing algorithm is symmetric."))
        return Answer(200, {"keys": ring.jwks}, {"Cache-Control": "public, max-age=300"})


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
