"""Login, refresh with rotation, sliding, revocation: the only code that changes state.

Views, the authentication class, the middleware and the admin call these functions; they
never write the database or the cache themselves.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any, NamedTuple

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from . import signals, store, tokens
from .conf import ClientProfile, api_settings
from .exceptions import (
    DATABASE_UNAVAILABLE,
    REFRESH_REUSED,
    SESSION_EXPIRED,
    SESSION_REVOKED,
    TOKEN_INVALID,
    TOKEN_REVOKED,
    ServiceUnavailable,
    TokenError,
)
from .models import DeviceSession, RevokeReason
from .store import SessionState, Successor
from .tokens import AccessClaims

logger = logging.getLogger("django_doubletoken")

# Cached state of a session that is gone from the database.
MISSING_SESSION = SessionState(user="", revoke_reason="deleted")


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    session_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "access": self.access,
            "refresh": self.refresh,
            "token_type": "Bearer",
            "access_expires_at": self.access_expires_at.isoformat(),
            "refresh_expires_at": self.refresh_expires_at.isoformat(),
            "session_id": self.session_id,
        }


@dataclass(frozen=True)
class AccessGrant:
    """A verified access token: what authentication hands to views and the middleware."""

    token: str
    claims: AccessClaims
    # Set when the sliding middleware already replaced this token (inside the grace window).
    successor: Successor | None = None

    @property
    def session_id(self) -> str:
        return self.claims.sid


@contextmanager
def _database_available() -> Iterator[None]:
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        logger.warning("database unavailable: %s", exc)
        raise ServiceUnavailable(DATABASE_UNAVAILABLE) from exc


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=dt_timezone.utc)


def profile_for(name: str) -> ClientProfile:
    """The session's profile; the default one if the project has since removed it."""
    try:
        return api_settings.profile(name)
    except KeyError:
        return api_settings.profile(api_settings.DEFAULT_CLIENT)


def _revoked_state_ttl() -> float:
    """How long a revoked state must stay cached: until no access token of it can be valid."""
    return tokens.longest_access_seconds() + api_settings.GRACE_PERIOD.total_seconds()


def _active_state_ttl(refresh_expires_at: datetime, now: datetime) -> float:
    # No access token outlives the refresh expiry it was issued under; after a rotation the
    # entry expires early and is read through again, once.
    return (refresh_expires_at - now + api_settings.LEEWAY).total_seconds()


def issue_pair(session: DeviceSession) -> TokenPair:
    """The token pair of the session's current refresh generation.

    A function of the row alone: called again within the grace window it returns the same
    tokens (same claims and, with deterministic algorithms like HS256/RS256, same strings).
    """
    issued = _unix(session.rotated_at or session.created_at)
    refresh_exp = _unix(session.expires_at)
    profile = profile_for(session.client)
    access_exp = min(issued + int(profile.access_lifetime.total_seconds()), refresh_exp)
    sid, sub = str(session.pk), str(session.user_id)
    access = tokens.encode_access(
        sub=sub,
        sid=sid,
        jti=tokens.derived_jti(sid, session.refresh_generation, "access"),
        iat=issued,
        exp=access_exp,
        client=session.client,
        session_expires=refresh_exp,
    )
    refresh = tokens.encode_refresh(
        sub=sub,
        sid=sid,
        generation=session.refresh_generation,
        iat=issued,
        exp=refresh_exp,
        client=session.client,
        absolute_expires=_unix(session.absolute_expires_at),
    )
    return TokenPair(
        access=access,
        refresh=refresh,
        access_expires_at=_from_unix(access_exp),
        refresh_expires_at=_from_unix(refresh_exp),
        session_id=sid,
    )


# --- login -------------------------------------------------------------------------------


def login(
    user: Any,
    *,
    client: str | None = None,
    device: str = "",
    ip: str | None = None,
    user_agent: str = "",
    request: HttpRequest | None = None,
) -> TokenPair:
    """Open a device session for an already authenticated ``user`` and return its tokens."""
    profile = api_settings.profile(client or api_settings.DEFAULT_CLIENT)
    now = timezone.now()
    absolute = now + profile.session_lifetime
    with _database_available(), transaction.atomic():
        session = DeviceSession.objects.create(
            user=user,
            client=profile.name,
            device=device[:200],
            user_agent=user_agent[:512],
            ip=ip,
            created_at=now,
            last_used_at=now,
            refresh_expires_at=min(now + profile.refresh_lifetime, absolute),
            absolute_expires_at=absolute,
        )
        over_limit = _sessions_over_limit(user, profile, keep=session)
        if over_limit:
            _revoke_locked(over_limit, RevokeReason.SESSION_LIMIT, now)
        sid = str(session.pk)
        # Inside the transaction: if the cache is down, no session is created (503).
        store.remember_session(
            sid, SessionState(str(user.pk), ""), _active_state_ttl(session.expires_at, now)
        )
        store.mark_used(sid)
    user_logged_in.send_robust(sender=user.__class__, request=request, user=user)
    signals.session_created.send_robust(sender=DeviceSession, session=session, request=request)
    for revoked in over_limit:
        signals.session_revoked.send_robust(
            sender=DeviceSession, session=revoked, reason=RevokeReason.SESSION_LIMIT
        )
    return issue_pair(session)


def _sessions_over_limit(
    user: Any, profile: ClientProfile, keep: DeviceSession
) -> list[DeviceSession]:
    """The oldest active sessions of this profile beyond its MAX_SESSIONS, locked."""
    if not profile.max_sessions:
        return []
    active = list(
        DeviceSession.objects.active()
        .select_for_update()
        .filter(user=user, client=profile.name)
        .exclude(pk=keep.pk)
        .order_by("-created_at")
    )
    return active[profile.max_sessions - 1 :]


# --- refresh -----------------------------------------------------------------------------


def user_pk(sub: str) -> Any:
    """The user pk a token's ``sub`` names; ``TokenError`` when it cannot be one."""
    try:
        return get_user_model()._meta.pk.to_python(sub)
    except ValidationError:
        raise TokenError(TOKEN_INVALID) from None


def _session_uuid(sid: str) -> uuid.UUID:
    try:
        return uuid.UUID(sid)
    except (ValueError, AttributeError, TypeError):
        raise TokenError(TOKEN_INVALID) from None


def refresh(raw_refresh: str, *, request: HttpRequest | None = None) -> TokenPair:
    """Rotate a refresh token.

    The current generation's token rotates the session (generation + 1). The previous
    generation's token within ``GRACE_PERIOD`` of that rotation gets the very same new pair
    (concurrent tabs and retries). Any older genuine token is reuse: the session is revoked.
    """
    claims = tokens.decode_refresh(raw_refresh)
    sid = _session_uuid(claims.sid)
    now = timezone.now()
    with _database_available():
        rotated_session = _rotate_current(claims, sid, now)
    if rotated_session is not None:
        if signals.session_refreshed.has_listeners(DeviceSession):
            signals.session_refreshed.send_robust(
                sender=DeviceSession, session=DeviceSession.objects.get(pk=sid), request=request
            )
        return issue_pair(rotated_session)
    return _refresh_locked(claims, sid, now, request)


def _rotate_current(
    claims: tokens.RefreshClaims, sid: uuid.UUID, now: datetime
) -> DeviceSession | None:
    """The common case in one statement: the current generation's token of a live session
    rotates with a single conditional UPDATE. None when that does not apply; every other case
    (a replay within the grace window, reuse, revoked, expired) takes the locked path.

    Concurrent rotations of one token are safe: the database serialises the UPDATEs on the
    row, and the later ones no longer match ``refresh_generation`` and fall through.
    """
    try:
        profile = api_settings.profile(claims.client)
        owner = user_pk(claims.sub)
    except (KeyError, TokenError):
        return None
    absolute = _from_unix(claims.absolute_expires)
    refresh_expires = min(now + profile.refresh_lifetime, absolute)
    # The cache first: when it is down, nothing has changed yet (503).
    store.mark_used(str(sid))
    rotated = DeviceSession.objects.filter(
        pk=sid,
        user_id=owner,
        client=claims.client,
        refresh_generation=claims.generation,
        revoked_at__isnull=True,
        refresh_expires_at__gt=now,
        absolute_expires_at__gt=now,
    ).update(
        refresh_generation=F("refresh_generation") + 1,
        rotated_at=now,
        last_used_at=now,
        refresh_expires_at=refresh_expires,
    )
    if not rotated:
        return None
    # What issue_pair needs, as the row now holds it (the absolute expiry to the second).
    return DeviceSession(
        pk=sid,
        user_id=owner,
        client=claims.client,
        refresh_generation=claims.generation + 1,
        rotated_at=now,
        refresh_expires_at=refresh_expires,
        absolute_expires_at=absolute,
    )


def _refresh_locked(
    claims: tokens.RefreshClaims, sid: uuid.UUID, now: datetime, request: HttpRequest | None
) -> TokenPair:
    reused: DeviceSession | None = None
    rotated = False
    with _database_available(), transaction.atomic():
        session = DeviceSession.objects.select_for_update().filter(pk=sid).first()
        if session is None or session.revoked_at is not None:
            raise TokenError(SESSION_REVOKED)
        if str(session.user_id) != claims.sub:
            raise TokenError(TOKEN_INVALID)
        if now >= session.expires_at:
            raise TokenError(SESSION_EXPIRED)
        current = session.refresh_generation
        if claims.generation == current:
            profile = profile_for(session.client)
            session.refresh_generation = current + 1
            session.rotated_at = now
            session.last_used_at = now
            session.refresh_expires_at = min(
                now + profile.refresh_lifetime, session.absolute_expires_at
            )
            session.save(
                update_fields=[
                    "refresh_generation",
                    "rotated_at",
                    "last_used_at",
                    "refresh_expires_at",
                ]
            )
            # Inside the transaction: with the cache down the rotation is rolled back (503).
            store.mark_used(str(sid))
            rotated = True
        elif claims.generation == current - 1 and _within_grace(session.rotated_at, now):
            pass  # a concurrent or retried rotation: hand out the same successor pair
        elif claims.generation < current:
            _revoke_locked([session], RevokeReason.REFRESH_REUSED, now)
            reused = session
        else:
            raise TokenError(TOKEN_INVALID)
    if reused is not None:
        signals.session_revoked.send_robust(
            sender=DeviceSession, session=reused, reason=RevokeReason.REFRESH_REUSED
        )
        signals.refresh_reused.send_robust(sender=DeviceSession, session=reused, request=request)
        raise TokenError(REFRESH_REUSED)
    if rotated:
        signals.session_refreshed.send_robust(
            sender=DeviceSession, session=session, request=request
        )
    return issue_pair(session)


def _within_grace(rotated_at: datetime | None, now: datetime) -> bool:
    return rotated_at is not None and now - rotated_at <= api_settings.GRACE_PERIOD


# --- authentication (every request) ------------------------------------------------------


def _load_session_state(sid: str) -> SessionState:
    """Read a session's state from the database and cache it (after a miss or a flush)."""
    now = timezone.now()
    with _database_available():
        row = (
            DeviceSession.objects.filter(pk=_session_uuid(sid))
            .values_list("user_id", "revoked_at", "revoke_reason", "refresh_expires_at")
            .first()
        )
    if row is None:
        state, ttl = MISSING_SESSION, _revoked_state_ttl()
    elif row[1] is not None:
        state, ttl = SessionState(str(row[0]), row[2] or "revoked"), _revoked_state_ttl()
    else:
        state, ttl = SessionState(str(row[0]), ""), _active_state_ttl(row[3], now)
    store.remember_session(sid, state, ttl)
    return state


def _check_session(claims: AccessClaims, session: SessionState, successor: Successor | None):
    if session.revoked:
        raise TokenError(SESSION_REVOKED)
    if session.user != claims.sub:
        raise TokenError(TOKEN_INVALID)
    if successor is not None and time.time() >= successor.issued_at + _grace_seconds():
        raise TokenError(TOKEN_REVOKED)


def _grace_seconds() -> float:
    return api_settings.GRACE_PERIOD.total_seconds()


def _record_use(sid: str) -> None:
    if store.claim_last_used_write(sid):
        with _database_available():
            DeviceSession.objects.filter(pk=sid).update(last_used_at=timezone.now())


def authenticate_access(raw: str, claims: AccessClaims | None = None) -> AccessGrant:
    """Verify an access token and its session: one JWT decode, one cache round trip.

    ``claims``, when the caller already decoded ``raw``, saves the second decode. The
    database is read only when the session's state is not cached, and written only to
    refresh ``last_used_at`` once per ``LAST_USED_UPDATE_INTERVAL``.
    """
    claims = claims or tokens.decode_access(raw)
    if not api_settings.REVOCATION_CHECK:
        return AccessGrant(raw, claims)
    state = store.read_request_state(claims.sid, claims.jti)
    session = state.session or _load_session_state(claims.sid)
    _check_session(claims, session, state.successor)
    if not state.recently_used:
        _record_use(claims.sid)
    return AccessGrant(raw, claims, state.successor)


async def aauthenticate_access(raw: str, claims: AccessClaims | None = None) -> AccessGrant:
    claims = claims or tokens.decode_access(raw)
    if not api_settings.REVOCATION_CHECK:
        return AccessGrant(raw, claims)
    state = await store.aread_request_state(claims.sid, claims.jti)
    session = state.session or await sync_to_async(_load_session_state)(claims.sid)
    _check_session(claims, session, state.successor)
    if not state.recently_used:
        await sync_to_async(_record_use)(claims.sid)
    return AccessGrant(raw, claims, state.successor)


# --- sliding -----------------------------------------------------------------------------


def needs_slide(claims: AccessClaims, now: float | None = None) -> bool:
    remaining = claims.exp - (time.time() if now is None else now)
    return remaining <= api_settings.SLIDING_THRESHOLD.total_seconds()


class _Replacement(NamedTuple):
    successor: Successor
    jti: str
    expires_at: int


def _new_replacement(claims: AccessClaims, now: int) -> _Replacement | None:
    """The token that replaces ``claims`` now, or None when the session's end is too close.

    A replacement must leave the refresh token at least SLIDING_THRESHOLD of life after it
    expires, so that the client can still refresh; nearer than that, sliding stops.
    """
    lifetime = int(profile_for(claims.client).access_lifetime.total_seconds())
    exp = now + lifetime
    if exp > claims.session_expires - api_settings.SLIDING_THRESHOLD.total_seconds():
        return None
    jti = secrets.token_urlsafe(16)
    token = tokens.encode_access(
        sub=claims.sub,
        sid=claims.sid,
        jti=jti,
        iat=now,
        exp=exp,
        client=claims.client,
        session_expires=claims.session_expires,
    )
    return _Replacement(Successor(token, now), jti, exp)


def _plan_slide(grant: AccessGrant, now: int) -> str | _Replacement | None:
    """Nothing to do (None), a successor already issued (its token), or a new one to store."""
    if not needs_slide(grant.claims, now):
        return None
    if grant.successor is not None:
        return grant.successor.token
    return _new_replacement(grant.claims, now)


def _successor_ttl(claims: AccessClaims, now: int) -> float:
    return claims.exp - now + api_settings.LEEWAY.total_seconds()


def _slid_arguments(grant: AccessGrant, ours: _Replacement) -> dict[str, Any]:
    return {
        "sender": DeviceSession,
        "session_id": grant.claims.sid,
        "user_id": grant.claims.sub,
        "old_jti": grant.claims.jti,
        "new_jti": ours.jti,
        "expires_at": ours.expires_at,
    }


def slide(grant: AccessGrant) -> str | None:
    """The token to send in NEW_TOKEN_HEADER for this request, or None.

    However many requests carry the same near-expiry token at once, they all get the same
    successor: the first to write it to the cache wins, the others read it back.
    """
    now = int(time.time())
    plan = _plan_slide(grant, now)
    if not isinstance(plan, _Replacement):
        return plan
    ttl = _successor_ttl(grant.claims, now)
    stored = store.add_successor(grant.claims.sid, grant.claims.jti, plan.successor, ttl)
    if stored is plan.successor:  # the signal goes out once, from the request that won
        signals.token_slid.send_robust(**_slid_arguments(grant, plan))
    return stored.token


async def aslide(grant: AccessGrant) -> str | None:
    now = int(time.time())
    plan = _plan_slide(grant, now)
    if not isinstance(plan, _Replacement):
        return plan
    ttl = _successor_ttl(grant.claims, now)
    stored = await store.aadd_successor(grant.claims.sid, grant.claims.jti, plan.successor, ttl)
    if stored is plan.successor:
        # asend runs sync receivers in a thread (the ORM refuses to run in the event loop).
        await signals.token_slid.asend_robust(**_slid_arguments(grant, plan))
    return stored.token


# --- revocation --------------------------------------------------------------------------


def _revoke_locked(sessions: Iterable[DeviceSession], reason: str, now: datetime) -> None:
    """Revoke rows already locked by the caller's transaction, in the database and the cache."""
    sessions = [s for s in sessions if s.revoked_at is None]
    if not sessions:
        return
    DeviceSession.objects.filter(pk__in=[s.pk for s in sessions]).update(
        revoked_at=now, revoke_reason=reason
    )
    for session in sessions:
        session.revoked_at, session.revoke_reason = now, reason
    states = {str(s.pk): SessionState(str(s.user_id), reason) for s in sessions}
    ttl = _revoked_state_ttl()
    # Before commit, so an unreachable cache rolls the revocation back (503) rather than
    # leaving the cache saying "active"...
    store.mark_revoked(states, ttl)
    # ...and again after commit, over any read-through that loaded the row before it.
    transaction.on_commit(lambda: store.mark_revoked(states, ttl), robust=True)


def revoke_sessions(queryset: QuerySet[DeviceSession], reason: str) -> int:
    """Revoke every not yet revoked session in ``queryset``; return how many were revoked."""
    now = timezone.now()
    # Re-selected by pk, so the lock covers session rows only, whatever joins, ordering or
    # slicing the caller's queryset (an admin changelist's, say) carries.
    pending = DeviceSession.objects.filter(pk__in=queryset.values("pk"), revoked_at__isnull=True)
    with _database_available(), transaction.atomic():
        sessions = list(pending.select_for_update())
        _revoke_locked(sessions, reason, now)
    for session in sessions:
        signals.session_revoked.send_robust(sender=DeviceSession, session=session, reason=reason)
    return len(sessions)


def revoke_session(session_id: str, reason: str) -> int:
    return revoke_sessions(DeviceSession.objects.filter(pk=_session_uuid(session_id)), reason)


def revoke_user_sessions(user_or_pk: Any, reason: str) -> int:
    """Log a user out everywhere; takes a user or its pk (a ``TokenUser`` needs no query)."""
    pk = getattr(user_or_pk, "pk", user_or_pk)
    return revoke_sessions(DeviceSession.objects.filter(user_id=pk), reason)
