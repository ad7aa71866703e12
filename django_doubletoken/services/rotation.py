"""Refresh with rotation: the current generation rotates, a replay within the grace window
gets the same new pair, any older genuine token is reuse and revokes the session."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from .. import dpop, signals, store, tokens
from ..claims import claims_function, custom_claims
from ..conf import doubletoken_settings
from ..errors import REFRESH_REUSED, SESSION_EXPIRED, SESSION_REVOKED, TOKEN_INVALID, TokenError
from ..models import DeviceSession, RevokeReason
from . import simplejwt
from .common import database_available, from_unix, profile_for, session_uuid, user_pk
from .pairs import TokenPair, issue_pair, pair_of_row
from .sessions import revoke_locked


def refresh(raw_refresh: str, *, request: HttpRequest | None = None,
            proof: dpop.ProofRequest | None = None) -> TokenPair:
    """Rotate a refresh token.

    The current generation's token rotates the session (generation + 1). The previous
    generation's token within ``GRACE_PERIOD`` of that rotation gets the very same new pair
    (concurrent tabs and retries). Any older genuine token is reuse: the session is revoked.

    With ``SIMPLEJWT_MIGRATION`` on, a djangorestframework-simplejwt refresh token is exchanged
    for a new session instead (``services.simplejwt``), on every face that calls this.

    A DPoP-bound session's token (its ``cnf.jkt``) needs ``proof``, the request's DPoP proof
    by that key; it is checked and recorded before anything changes.
    """
    try:
        claims = tokens.decode_refresh(raw_refresh)
    except TokenError:
        # Only a token that is none of ours gets here: the common path pays nothing.
        pair = simplejwt.exchange(raw_refresh, request=request)
        if pair is None:
            raise
        return pair
    dpop.check_refresh(claims.context.jkt, claims.client, proof)
    sid = session_uuid(claims.sid)
    now = timezone.now()
    # Custom claims need the user and the session row: the locked path reads them, and issues
    # the pair before its transaction commits (claims that cannot go into a token change
    # nothing).
    if claims_function() is None:
        with database_available():
            pair = _rotate_current(claims, sid, now)
    else:
        pair = None
    if pair is not None:
        if signals.session_refreshed.has_listeners(DeviceSession):
            signals.session_refreshed.send_robust(
                sender=DeviceSession, session=DeviceSession.objects.get(pk=sid), request=request
            )
        return pair
    return _refresh_locked(claims, sid, now, request)


def _rotate_current(
    claims: tokens.RefreshClaims, sid: uuid.UUID, now: datetime
) -> TokenPair | None:
    """The common case in one statement: the current generation's token of a live session
    rotates with a single conditional UPDATE, and its new pair is issued from what the row now
    holds. None when that does not apply; every other case (a replay within the grace window,
    reuse, revoked, expired) takes the locked path.

    Concurrent rotations of one token are safe: the database serialises the UPDATEs on the
    row, and the later ones no longer match ``refresh_generation`` and fall through.
    """
    try:
        profile = doubletoken_settings.profile(claims.client)
        owner = user_pk(claims.sub)
    except (KeyError, TokenError):
        return None
    absolute = from_unix(claims.absolute_expires)
    refresh_expires = min(now + profile.refresh_lifetime, absolute)
    # The cache first: when it is down, nothing has changed yet (503). Its SET overlaps the
    # UPDATE (sent before, its reply read after): one round trip's wait instead of two.
    with store.marking_used(str(sid)):
        rotated = DeviceSession.objects.rotate_generation(
            pk=sid, user_id=owner, client=claims.client, generation=claims.generation,
            now=now, refresh_expires_at=refresh_expires,
        )
    if not rotated:
        return None
    # issue_pair of the row as it now is (the absolute expiry to the second), from the
    # values at hand: a replay in the grace window, issued from the row, gets the same pair.
    return pair_of_row(
        sid=str(sid),
        sub=str(owner),
        client=claims.client,
        generation=claims.generation + 1,
        issued_at=now,
        expires_at=min(refresh_expires, absolute),
        absolute_expires_at=absolute,
        context=claims.context,  # the row's, as of the generation this token belongs to
    )


def _refresh_locked(
    claims: tokens.RefreshClaims, sid: uuid.UUID, now: datetime, request: HttpRequest | None
) -> TokenPair:
    reused: DeviceSession | None = None
    rotated = False
    with database_available(), transaction.atomic():
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
            revoke_locked([session], RevokeReason.REFRESH_REUSED, now)
            reused = session
        else:
            raise TokenError(TOKEN_INVALID)
        pair = None if reused else issue_pair(session, custom_claims(session))
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
    return pair


def _within_grace(rotated_at: datetime | None, now: datetime) -> bool:
    return rotated_at is not None and now - rotated_at <= doubletoken_settings.GRACE_PERIOD
