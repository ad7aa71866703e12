"""Migrating from djangorestframework-simplejwt without logging anyone out (opt-in,
``SIMPLEJWT_MIGRATION``).

Until the migration's end, ``refresh`` also takes a simplejwt refresh token. It is verified as
simplejwt itself would (the project's ``SIMPLE_JWT`` settings: key, algorithm, audience,
issuer, leeway, claim names; refused when simplejwt's blacklist lists it) and exchanged,
**once**, for a new device session of its user: its ``jti`` goes into a unique column in the
same transaction that opens the session, so that however many requests present it at once,
one session is opened. Presented again within ``GRACE_PERIOD`` (concurrent tabs, a retry
after a lost response) it gets that session's very same pair, as a rotated refresh token
would; later it is reuse and revokes that session. With simplejwt's blacklist app installed
the token is also blacklisted there, so simplejwt's own endpoints refuse it too.

simplejwt imports DRF, which the core may not: the token is verified with PyJWT
(``simplejwt_tokens``: the setting, ``SIMPLE_JWT``, verification; importable from here as
before), and the blacklist models are looked up in the app registry only when that app is
installed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from .. import signals
from ..claims import custom_claims
from ..conf import doubletoken_settings
from ..errors import (
    REFRESH_REUSED,
    SESSION_REVOKED,
    SIMPLEJWT_MIGRATION_ENDED,
    TOKEN_INVALID,
    TokenError,
)
from ..http import remote_ip, user_agent
from ..models import DeviceSession, RevokeReason, SimpleJWTExchange
from ..tokens import SessionContext
from .common import database_available, from_unix
from .pairs import TokenPair, issue_pair
from .sessions import login, revoke_locked
from .simplejwt_tokens import (  # noqa: F401 (importable from here as before)
    ACCESS_TYPE,
    MIGRATION_KEYS,
    REFRESH_TYPE,
    SIMPLE_JWT_DEFAULTS,
    Migration,
    MigrationSettingError,
    _end_date,
    _verified,
    is_access_token,
    migration,
    simple_jwt_settings,
    verifying_key,
)

BLACKLIST_APP = "rest_framework_simplejwt.token_blacklist"

# An exchange is no authentication: the user proved nothing just now, and when they last did
# is unknown. The epoch says "long ago", so step-up guards ask for a re-authentication first.
EXCHANGED = SessionContext(auth_time=0)


def exchange(raw: str, *, request: HttpRequest | None = None) -> TokenPair | None:
    """The pair for a simplejwt refresh token; None when ``raw`` is not one (or the migration
    is off), so that the caller's own error stands. ``TokenError`` when it is one but may not
    be exchanged: an access token, expired, blacklisted, its user gone or deactivated, already
    exchanged, or the migration has ended (then every simplejwt token, expired or not)."""
    plan = migration()
    if plan is None:
        return None
    config = simple_jwt_settings()
    now = timezone.now()
    ended = now >= plan.until
    payload = _verified(raw, config, check_expiry=not ended)
    if payload is None:
        return None
    if ended:
        raise TokenError(SIMPLEJWT_MIGRATION_ENDED)
    jti = payload[config["JTI_CLAIM"]]
    if payload[config["TOKEN_TYPE_CLAIM"]] != REFRESH_TYPE:
        raise TokenError(TOKEN_INVALID)  # a simplejwt access (or sliding) token
    if not isinstance(jti, str) or not 0 < len(jti) <= 255 or not isinstance(payload["exp"], int):
        raise TokenError(TOKEN_INVALID)
    with database_available():
        if SimpleJWTExchange.objects.filter(jti=jti).exists():
            return _exchanged_again(jti, now, request)
        user = _user(payload, config)
        try:
            with transaction.atomic():
                # First: the unique jti makes every concurrent exchange of this token wait
                # here for the first one's commit, then fail. Only then the blacklist, which
                # the first one writes: read before, it would refuse the others.
                record = SimpleJWTExchange.objects.create(
                    jti=jti, exchanged_at=now, token_expires_at=from_unix(payload["exp"]))
                if _blacklisted(jti):
                    raise TokenError(SESSION_REVOKED)
                _blacklist(jti, payload["exp"], raw, user)
                pair = login(user, client=plan.client, device=plan.device,
                             ip=None if request is None else remote_ip(request),
                             user_agent="" if request is None else user_agent(request),
                             request=request, context=EXCHANGED)
                record.session_id = pair.session_id
                record.save(update_fields=["session"])
        except IntegrityError:
            if not SimpleJWTExchange.objects.filter(jti=jti).exists():
                raise  # not ours: a real integrity problem
            return _exchanged_again(jti, now, request)
    return pair


def _user(payload: dict[str, Any], config: dict[str, Any]) -> Any:
    """The token's user, as simplejwt's refresh would accept it; its session is revoked
    otherwise (deleted, deactivated, or its password changed with CHECK_REVOKE_TOKEN)."""
    model = get_user_model()
    try:
        user = model._default_manager.get(
            **{config["USER_ID_FIELD"]: payload[config["USER_ID_CLAIM"]]})
    except (model.DoesNotExist, ValidationError, ValueError, TypeError):
        raise TokenError(SESSION_REVOKED) from None
    if not getattr(user, "is_active", True):  # this app opens no session for one
        raise TokenError(SESSION_REVOKED)
    if config["CHECK_REVOKE_TOKEN"] and payload.get(config["REVOKE_TOKEN_CLAIM"]) != (
        hashlib.md5(user.password.encode()).hexdigest().upper()  # simplejwt's own digest
    ):
        raise TokenError(SESSION_REVOKED)
    return user


def _blacklist_models() -> tuple[Any, Any] | None:
    """simplejwt's (OutstandingToken, BlacklistedToken), from the app registry (importing
    them would import DRF); None when its blacklist app is not installed."""
    if not apps.is_installed(BLACKLIST_APP):
        return None
    app = apps.get_containing_app_config(BLACKLIST_APP)
    return app.get_model("OutstandingToken"), app.get_model("BlacklistedToken")


def _blacklisted(jti: str) -> bool:
    models = _blacklist_models()
    return models is not None and models[1].objects.filter(token__jti=jti).exists()


def _blacklist(jti: str, exp: int, raw: str, user: Any) -> None:
    """What simplejwt's ``RefreshToken.blacklist()`` does, so its own views refuse it too."""
    models = _blacklist_models()
    if models is None:
        return
    outstanding_model, blacklisted_model = models
    outstanding, _ = outstanding_model.objects.get_or_create(
        jti=jti, defaults={"user": user, "token": raw, "created_at": timezone.now(),
                           "expires_at": from_unix(exp)})
    blacklisted_model.objects.get_or_create(token=outstanding)


def _exchanged_again(jti: str, now: datetime, request: HttpRequest | None) -> TokenPair:
    """The token was exchanged before: the same pair within the grace window, else reuse."""
    with transaction.atomic():
        record = SimpleJWTExchange.objects.get(jti=jti)
        session = DeviceSession.objects.select_for_update().filter(pk=record.session_id).first()
        if (session is not None and session.is_active(now) and session.refresh_generation == 0
                and now - record.exchanged_at <= doubletoken_settings.GRACE_PERIOD):
            return issue_pair(session, custom_claims(session))
        reused = session if session is not None and session.revoked_at is None else None
        if reused is not None:
            revoke_locked([reused], RevokeReason.REFRESH_REUSED, now)
    if reused is not None:
        signals.session_revoked.send_robust(
            sender=DeviceSession, session=reused, reason=RevokeReason.REFRESH_REUSED)
        signals.refresh_reused.send_robust(sender=DeviceSession, session=reused, request=request)
    raise TokenError(REFRESH_REUSED)


def purge_exchanges(*, batch_size: int, now: datetime | None = None) -> Iterator[int]:
    """Delete the records of exchanged simplejwt tokens that have expired (beyond simplejwt's
    LEEWAY), ``batch_size`` rows per transaction, yielding each batch's count. Such a token is
    refused on its expiry (or on the migration's end) before its record is ever looked up, so
    the record no longer keeps anything spent."""
    leeway = simple_jwt_settings()["LEEWAY"]
    leeway = leeway if isinstance(leeway, timedelta) else timedelta(seconds=leeway or 0)
    expired = SimpleJWTExchange.objects.filter(
        token_expires_at__lt=(now or timezone.now()) - leeway).order_by("token_expires_at")
    while True:
        with transaction.atomic():
            batch = list(expired.values_list("pk", flat=True)[:batch_size])
            if not batch:
                return
            deleted, _ = SimpleJWTExchange.objects.filter(pk__in=batch).delete()
        yield deleted
