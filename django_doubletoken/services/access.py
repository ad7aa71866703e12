"""The per-request path: authenticate an access token (one decode, one cache round trip).

A token about to be slid has its successor offered within that round trip; the slide itself
(re-issuing a token near expiry, once for all concurrent requests carrying it) lives in
``sliding``, whose public functions are importable from here as before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.utils import timezone

from .. import dpop, store, tokens
from ..conf import doubletoken_settings
from ..errors import SESSION_REVOKED, TOKEN_EXPIRED, TOKEN_INVALID, TOKEN_REVOKED, TokenError
from ..models import DeviceSession
from ..store import SessionState, Successor
from ..tokens import AccessClaims
from . import simplejwt
from .common import (
    active_state_ttl,
    database_available,
    revoked_in_request,
    revoked_state_ttl,
    session_uuid,
)
from .sliding import (  # noqa: F401 (importable from here as before)
    SUCCESSOR_MEMORY,
    _new_replacement,
    _note_successor,
    _successor_seen,
    _successor_ttl,
    aslide,
    needs_slide,
    slide,
    withdraw,
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
                        slide: bool = False) -> AccessGrant:  # noqa: F811 (the flag)
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
    read = store.read_request_state_offering(
        claims.sid, claims.jti, lambda: _offer(claims)) if slide and checked is None else None
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


def _offer(claims: AccessClaims) -> store.Offer | None:
    """The successor to offer with the request's read: for a token inside the window, unless
    this process saw a successor stored for it already (then the read alone)."""
    now = int(time.time())
    if (not needs_slide(claims, now) or revoked_in_request(claims.sid)
            or claims.jti in _successor_seen):
        return None
    replacement = _new_replacement(claims, now)
    if replacement is None:
        return None
    return store.Offer(replacement.successor, _successor_ttl(claims, now))


async def aauthenticate_access(raw: str, claims: AccessClaims | None = None, *,
                               proof: dpop.ProofRequest | None = None,
                               slide: bool = False) -> AccessGrant:  # noqa: F811 (the flag)
    """``authenticate_access`` for async code: the cache read with its async API, a
    successor offered within the same read for a token inside the window (``slide``)."""
    claims = claims or _decode(raw)
    checked = _check_proof(raw, claims, proof)
    if not doubletoken_settings.REVOCATION_CHECK:
        if checked is not None:
            await dpop.arecord_replay(checked.replay)
        return AccessGrant(raw, claims)
    read = await store.aread_request_state_offering(
        claims.sid, claims.jti, lambda: _offer(claims)) if slide and checked is None else None
    if read is not None:
        state, stored_here = read
    else:
        state, stored_here = await store.aread_request_state(
            claims.sid, claims.jti, None if checked is None else checked.replay), False
    if checked is not None:
        dpop.replay_accepted(state.replay_created)
    if slide and state.successor is not None:
        _note_successor(claims.jti)
    session = state.session or await sync_to_async(_load_session_state)(claims.sid)
    _check_session(claims, session, state.successor)
    if not state.recently_used:
        await sync_to_async(_record_use)(claims.sid)
    return AccessGrant(raw, claims, state.successor, stored_here)


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
