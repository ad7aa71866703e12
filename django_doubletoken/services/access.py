"""The per-request path: authenticate an access token (one decode, one cache round trip) and
slide it, i.e. re-issue it near expiry, once for all concurrent requests carrying it."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from asgiref.sync import sync_to_async
from django.utils import timezone

from .. import dpop, signals, store, tokens
from ..conf import doubletoken_settings
from ..errors import SESSION_REVOKED, TOKEN_EXPIRED, TOKEN_INVALID, TOKEN_REVOKED, TokenError
from ..models import DeviceSession
from ..store import SessionState, Successor
from ..tokens import AccessClaims
from . import simplejwt
from .common import (
    active_state_ttl,
    database_available,
    profile_for,
    revoked_in_request,
    revoked_state_ttl,
    session_uuid,
)

# Cached state of a session that is gone from the database.
MISSING_SESSION = SessionState(user="", revoke_reason="deleted")


@dataclass(frozen=True)
class AccessGrant:
    """A verified access token: what authentication hands to views and the middleware."""

    token: str
    claims: AccessClaims
    # Set when the sliding middleware already replaced this token (inside the grace window).
    successor: Successor | None = None
    # The successor was stored by this request's own read (``authenticate_access(slide=
    # True)``): the middleware sends it without a round trip, and the token_slid signal.
    stored_here: bool = False

    @property
    def session_id(self) -> str:
        return self.claims.sid


# --- authentication ----------------------------------------------------------------------


def _load_session_state(sid: str) -> SessionState:
    """Read a session's state from the database and cache it (after a miss or a flush)."""
    now = timezone.now()
    with database_available():
        row = (
            DeviceSession.objects.filter(pk=session_uuid(sid))
            .values_list("user_id", "revoked_at", "revoke_reason", "refresh_expires_at")
            .first()
        )
    if row is None:
        state, ttl = MISSING_SESSION, revoked_state_ttl()
    elif row[1] is not None:
        state, ttl = SessionState(str(row[0]), row[2] or "revoked"), revoked_state_ttl()
    else:
        state, ttl = SessionState(str(row[0]), ""), active_state_ttl(row[3], now)
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
    return doubletoken_settings.GRACE_PERIOD.total_seconds()


def _record_use(sid: str) -> None:
    if store.claim_last_used_write(sid):
        with database_available():
            DeviceSession.objects.filter(pk=sid).update(last_used_at=timezone.now())


def _decode(raw: str) -> AccessClaims:
    try:
        return tokens.decode_access(raw)
    except TokenError as exc:
        # Only a token that is none of ours gets here: the common path pays nothing.
        if exc.code == TOKEN_INVALID and simplejwt.is_access_token(raw):
            # Issued by simplejwt before the switch (SIMPLEJWT_MIGRATION): the client should
            # refresh, which exchanges its simplejwt refresh token, rather than log out.
            raise TokenError(TOKEN_EXPIRED) from None
        raise


def authenticate_access(raw: str, claims: AccessClaims | None = None, *,
                        proof: dpop.ProofRequest | None = None,
                        slide: bool = False) -> AccessGrant:
    """Verify an access token and its session: one JWT decode, one cache round trip.

    ``claims``, when the caller already decoded ``raw``, saves the second decode. ``proof``:
    the request's DPoP proof when the token came with the DPoP scheme (None: as Bearer); a
    bound token needs one by its key, whose replay record joins the round trip. The
    database is read only when the session's state is not cached, and written only to
    refresh ``last_used_at`` once per ``LAST_USED_UPDATE_INTERVAL``.

    ``slide``: the sliding middleware will slide this token if its response lets it (the
    caller knows the view is not ``sliding_exempt``): a token inside the window then has its
    successor computed first and stored by the same round trip (``stored_here``).
    """
    claims = claims or _decode(raw)
    checked = _check_proof(raw, claims, proof)
    if not doubletoken_settings.REVOCATION_CHECK:
        if checked is not None:
            dpop.record_replay(checked.replay)
        return AccessGrant(raw, claims)
    # A DPoP request's replay record takes the round trip's write instead (its own pipeline).
    read = _read_offering(claims) if slide and checked is None else None
    if read is not None:
        state, stored_here = read
    else:
        state, stored_here = store.read_request_state(
            claims.sid, claims.jti, None if checked is None else checked.replay), False
    if checked is not None:
        dpop.replay_accepted(state.replay_created)
    if slide and state.successor is not None:
        _note_successor(claims.jti)
    session = state.session or _load_session_state(claims.sid)
    _check_session(claims, session, state.successor)
    if not state.recently_used:
        _record_use(claims.sid)
    return AccessGrant(raw, claims, state.successor, stored_here)


# The jtis of tokens this process saw a successor stored for: a client sends its token a few
# more times before it swaps in the new one, and those requests need no successor computed
# and offered (a signature, a refused SET NX). Only a hint: the read still says whether the
# successor is there (if not, the middleware stores one in a round trip of its own).
_successor_seen: dict[str, None] = {}
SUCCESSOR_MEMORY = 4096


def _note_successor(jti: str) -> None:
    if len(_successor_seen) >= SUCCESSOR_MEMORY:
        _successor_seen.clear()
    _successor_seen[jti] = None


def _read_offering(claims: AccessClaims) -> tuple[store.RequestState, bool] | None:
    """The request state read with a successor offered, for a token inside the window
    (unless this process saw a successor stored for it already: then the read alone)."""
    now = int(time.time())
    if (not needs_slide(claims, now) or revoked_in_request(claims.sid)
            or claims.jti in _successor_seen):
        return None
    replacement = _new_replacement(claims, now)
    if replacement is None:
        return None
    offer = store.Offer(replacement.successor, _successor_ttl(claims, now))
    return store.read_request_state_offering(claims.sid, claims.jti, offer)


async def aauthenticate_access(raw: str, claims: AccessClaims | None = None, *,
                               proof: dpop.ProofRequest | None = None) -> AccessGrant:
    claims = claims or _decode(raw)
    checked = _check_proof(raw, claims, proof)
    if not doubletoken_settings.REVOCATION_CHECK:
        if checked is not None:
            await dpop.arecord_replay(checked.replay)
        return AccessGrant(raw, claims)
    state = await store.aread_request_state(claims.sid, claims.jti,
                                            None if checked is None else checked.replay)
    if checked is not None:
        dpop.replay_accepted(state.replay_created)
    session = state.session or await sync_to_async(_load_session_state)(claims.sid)
    _check_session(claims, session, state.successor)
    if not state.recently_used:
        await sync_to_async(_record_use)(claims.sid)
    return AccessGrant(raw, claims, state.successor)


def _check_proof(raw: str, claims: AccessClaims, proof: dpop.ProofRequest | None
                 ) -> dpop.Proof | None:
    # A Bearer request with an unbound token (DPoP off) costs one comparison.
    if proof is None and not claims.context.jkt:
        return None
    return dpop.access_proof(raw, claims.context.jkt, claims.client, proof)


async def acheck_session(claims: AccessClaims) -> None:
    """Raise unless the session of an already verified token is still valid (not revoked,
    still its user's), whatever became of that token since: for connections that outlive a
    request, such as a WebSocket. A slide replaces the token a socket was opened with, but it
    ends nothing, so the token's own successor (``token_revoked`` over HTTP) is not asked
    about; its expiry is the caller's to enforce."""
    if not doubletoken_settings.REVOCATION_CHECK:
        return
    state = await store.aread_request_state(claims.sid, claims.jti)
    session = state.session or await sync_to_async(_load_session_state)(claims.sid)
    _check_session(claims, session, successor=None)


# --- sliding -----------------------------------------------------------------------------


def needs_slide(claims: AccessClaims, now: float | None = None) -> bool:
    remaining = claims.exp - (time.time() if now is None else now)
    return remaining <= doubletoken_settings.SLIDING_THRESHOLD.total_seconds()


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
    if exp > claims.session_expires - doubletoken_settings.SLIDING_THRESHOLD.total_seconds():
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
        custom=claims.custom,  # as verified: the hot path never reads the database
        context=claims.context,
    )
    return _Replacement(Successor(token, now), jti, exp)


def _plan_slide(grant: AccessGrant, now: int) -> str | _Replacement | None:
    """Nothing to do (None), a successor already issued (its token), or a new one to store.

    A session the request itself revoked gets nothing, not even a successor issued earlier.
    """
    if not needs_slide(grant.claims, now) or revoked_in_request(grant.session_id):
        return None
    if grant.successor is not None:
        return grant.successor.token
    return _new_replacement(grant.claims, now)


def _successor_ttl(claims: AccessClaims, now: int) -> float:
    return claims.exp - now + doubletoken_settings.LEEWAY.total_seconds()


def _slid_arguments(grant: AccessGrant, ours: _Replacement) -> dict[str, Any]:
    return {
        "sender": DeviceSession,
        "session_id": grant.claims.sid,
        "user_id": grant.claims.sub,
        "old_jti": grant.claims.jti,
        "new_jti": ours.jti,
        "expires_at": ours.expires_at,
    }


def _slid_by_read(grant: AccessGrant, plan: str | _Replacement | None) -> bool:
    """Whether the successor about to be sent was stored by this request's read, and the
    token_slid signal (sent once, by the request that stored it) has receivers."""
    return (grant.stored_here and plan is not None
            and signals.token_slid.has_listeners(DeviceSession))


def _stored_replacement(grant: AccessGrant) -> _Replacement:
    """The replacement a request's read stored, as the token_slid signal describes it."""
    assert grant.successor is not None
    claims = tokens.decode_access(grant.successor.token)
    return _Replacement(grant.successor, claims.jti, claims.exp)


def withdraw(grant: AccessGrant) -> None:
    """The successor this request's read stored will not be sent (an error response, a
    request that revoked its session): delete it (``store.withdraw_successor``)."""
    if grant.stored_here:
        _successor_seen.pop(grant.claims.jti, None)
        store.withdraw_successor(grant.claims.sid, grant.claims.jti)


def slide(grant: AccessGrant) -> str | None:
    """The token to send in NEW_TOKEN_HEADER for this request, or None.

    However many requests carry the same near-expiry token at once, they all get the same
    successor: the first to write it to the cache wins, the others read it back.
    """
    now = int(time.time())
    plan = _plan_slide(grant, now)
    if grant.stored_here and plan is None:  # the request revoked its own session
        withdraw(grant)
    if _slid_by_read(grant, plan):
        signals.token_slid.send_robust(**_slid_arguments(grant, _stored_replacement(grant)))
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
    if grant.stored_here and plan is None:
        await sync_to_async(withdraw)(grant)
    if _slid_by_read(grant, plan):
        await signals.token_slid.asend_robust(**_slid_arguments(grant, _stored_replacement(grant)))
    if not isinstance(plan, _Replacement):
        return plan
    ttl = _successor_ttl(grant.claims, now)
    stored = await store.aadd_successor(grant.claims.sid, grant.claims.jti, plan.successor, ttl)
    if stored is plan.successor:
        # asend runs sync receivers in a thread (the ORM refuses to run in the event loop).
        await signals.token_slid.asend_robust(**_slid_arguments(grant, plan))
    return stored.token
