"""A device session's life outside the request path: opened at login, revoked (logout, staff,
reuse, session limit, user changes), and deleted once it can never be used again."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.signals import post_save, pre_save
from django.http import HttpRequest
from django.utils import timezone

from .. import signals, store
from ..claims import claims_function, custom_claims
from ..conf import ClientProfile, doubletoken_settings
from ..models import DeviceSession, RevokeReason
from ..store import SessionState
from ..tokens import NO_CONTEXT, SessionContext
from . import last_login
from .common import (
    active_state_ttl,
    database_available,
    note_revoked,
    revoked_state_ttl,
    session_uuid,
    unix,
)
from .pairs import TokenPair, issue_pair


def login(
    user: Any,
    *,
    client: str | None = None,
    device: str = "",
    ip: str | None = None,
    user_agent: str = "",
    request: HttpRequest | None = None,
    context: SessionContext | None = None,
    throttle: store.ThrottleHit | None = None,
) -> TokenPair:
    """Open a device session for an already authenticated ``user`` and return its tokens.

    ``context``: the session's DPoP key and how the user authenticated (``acr``, ``amr``);
    its ``auth_time`` defaults to now.

    Sends ``user_logged_in`` (whose Django receiver updates ``last_login``) and
    ``session_created``. In the common case (no ACCESS_TOKEN_CLAIMS, no MAX_SESSIONS for the
    profile, nobody listening to the row's model signals) that is one cache round trip and
    one SQL statement, ``last_login`` included (``last_login``).

    ``throttle``: the login endpoint's count, taken in the cache round trip that writes the
    session's state; ``store.Throttled`` (nothing written) when over its rate.
    """
    profile = doubletoken_settings.profile(client or doubletoken_settings.DEFAULT_CLIENT)
    now = timezone.now()
    absolute = now + profile.session_lifetime
    session = DeviceSession(
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
    context = context or NO_CONTEXT
    if context.auth_time is None:
        context = replace(context, auth_time=unix(now))
    session.context = context
    if claims_function() is None and not profile.max_sessions and not _row_signals_heard():
        pair, over_limit = _open(session, user, now, throttle), []
    else:
        pair, over_limit = _open_locked(session, user, profile, now, throttle)
    user_logged_in.send_robust(sender=user.__class__, request=request, user=user)
    signals.session_created.send_robust(sender=DeviceSession, session=session, request=request)
    for revoked in over_limit:
        signals.session_revoked.send_robust(
            sender=DeviceSession, session=revoked, reason=RevokeReason.SESSION_LIMIT
        )
    return pair


def _row_signals_heard() -> bool:
    return pre_save.has_listeners(DeviceSession) or post_save.has_listeners(DeviceSession)


def _open(session: DeviceSession, user: Any, now: datetime,
          throttle: store.ThrottleHit | None) -> TokenPair:
    """The session row (and ``last_login``) in one statement, the cache state in one round
    trip before it: when the cache is down, nothing is written (503); when the database
    fails after, the cache holds the state of a session nobody has a token for."""
    pair = issue_pair(session)
    sid = str(session.pk)
    store.open_session(
        sid, SessionState(str(user.pk), ""), active_state_ttl(session.expires_at, now), throttle
    )
    alias = last_login.writable_with_session(user)
    with database_available():
        if alias is None:
            DeviceSession.objects.insert(session)
        else:
            last_login.before_write(user, alias, now)
            DeviceSession.objects.insert(session, last_login_of=user)
            last_login.after_write(user, alias)
    return pair


def _open_locked(
    session: DeviceSession, user: Any, profile: ClientProfile, now: datetime,
    throttle: store.ThrottleHit | None,
) -> tuple[TokenPair, list[DeviceSession]]:
    """The general case: custom claims computed from the saved row, the profile's session
    limit applied under lock, in one transaction with the cache write. The throttle is
    counted first, on its own: a revocation of sessions over the limit writes the cache
    before the transaction commits, so nothing may refuse the login after it."""
    wait = None if throttle is None else store.count_request(throttle)
    if wait is not None:
        raise store.Throttled(wait)
    with database_available(), transaction.atomic():
        session.save(force_insert=True)
        # Before anything reaches the cache: claims that cannot go into a token (ClaimsError)
        # leave no session behind.
        pair = issue_pair(session, custom_claims(session, user))
        over_limit = _sessions_over_limit(user, profile, keep=session)
        if over_limit:
            revoke_locked(over_limit, RevokeReason.SESSION_LIMIT, now)
        # Inside the transaction: if the cache is down, no session is created (503).
        store.open_session(
            str(session.pk), SessionState(str(user.pk), ""),
            active_state_ttl(session.expires_at, now),
        )
    return pair, over_limit


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


def revoke_locked(sessions: Iterable[DeviceSession], reason: str, now: datetime) -> None:
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
    # Even if the transaction later rolls back: a response withheld from sliding is harmless.
    note_revoked(states)
    ttl = revoked_state_ttl()
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
    with database_available(), transaction.atomic():
        sessions = list(pending.select_for_update())
        revoke_locked(sessions, reason, now)
    for session in sessions:
        signals.session_revoked.send_robust(sender=DeviceSession, session=session, reason=reason)
    return len(sessions)


def revoke_session(session_id: str, reason: str) -> int:
    return revoke_sessions(DeviceSession.objects.filter(pk=session_uuid(session_id)), reason)


def revoke_user_sessions(user_or_pk: Any, reason: str, *, keep: str | None = None) -> int:
    """Log a user out everywhere; takes a user or its pk (a ``TokenUser`` needs no query).
    ``keep``: the id of one session to leave alone (the caller's own)."""
    pk = getattr(user_or_pk, "pk", user_or_pk)
    sessions = DeviceSession.objects.filter(user_id=pk)
    if keep is not None:
        sessions = sessions.exclude(pk=session_uuid(keep))
    return revoke_sessions(sessions, reason)


def revoke_other_sessions(user_or_pk: Any, session_id: str) -> int:
    """"Sign out of all other devices": every session of the user but ``session_id`` (the
    caller's) is revoked, reason ``logout_others``; returns how many."""
    return revoke_user_sessions(user_or_pk, RevokeReason.LOGOUT_OTHERS, keep=session_id)


# The session a password change made in this context leaves alone: (user pk, session id).
_kept_session: ContextVar[tuple[str, str] | None] = ContextVar(
    "doubletoken_kept_session", default=None)


@contextmanager
def keeping_session(user_pk: Any, session_id: str | None) -> Iterator[None]:
    """Within the block, the revocation that a change of this user's password triggers
    (``REVOKE_ON_PASSWORD_CHANGE``) spares ``session_id``."""
    token = _kept_session.set(None if session_id is None else (str(user_pk), session_id))
    try:
        yield
    finally:
        _kept_session.reset(token)


def kept_session(user_pk: Any) -> str | None:
    """The session ``keeping_session`` spares for this user, if any."""
    kept = _kept_session.get()
    return kept[1] if kept is not None and kept[0] == str(user_pk) else None


def change_password(user: Any, raw_password: str, *, keep_session: str | None = None) -> None:
    """Set and save ``user``'s password. With ``REVOKE_ON_PASSWORD_CHANGE`` every session of
    the user is revoked (reason ``password_changed``) but ``keep_session``, when given: the
    device that made the change stays signed in, every other one is signed out."""
    with keeping_session(user.pk, keep_session):
        user.set_password(raw_password)
        user.save(update_fields=["password"])


def purge_sessions(
    *, expired_before: datetime, revoked_before: datetime, batch_size: int
) -> Iterator[int]:
    """Delete the sessions ``DeviceSession.objects.purgeable()`` names, ``batch_size`` rows per
    transaction, yielding each batch's count so a caller can report and pause in between.

    The expired rows, then the revoked ones, each walked in its index's order from where the
    last batch stopped (``DeviceSession.objects.purge_walks``): every batch costs about the
    same, however many rows went before. Rows that become purgeable behind the walk while it
    runs are left for the next purge.

    Their cached state needs no cleanup: a revoked or expired session's entries expire by
    themselves, and a deleted row reads through as revoked.
    """
    for walk in DeviceSession.objects.purge_walks(
        expired_before=expired_before, revoked_before=revoked_before
    ):
        while True:
            with transaction.atomic():
                batch = walk.next_batch(batch_size)
                if not batch:
                    break
                deleted, _ = DeviceSession.objects.filter(pk__in=batch).delete()
            yield deleted
