"""Sliding: re-issuing an access token near its expiry, once for all concurrent requests
carrying it.

``slide`` / ``aslide`` (the sliding middleware's call, after the view) return the token for
``NEW_TOKEN_HEADER``: the successor already stored for the token, or a new one stored with
``add`` (first writer wins), never past the session's refresh or absolute expiry, never for a
session the request revoked. ``withdraw`` deletes a successor that will not be sent.
Authentication (``access``) uses ``needs_slide`` and ``_new_replacement`` to offer a successor
within its own round trip, and the successor memory below to skip offering it twice.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from asgiref.sync import sync_to_async

from .. import signals, store, tokens
from ..conf import doubletoken_settings
from ..models import DeviceSession
from ..store import Successor
from ..tokens import AccessClaims
from .common import profile_for, revoked_in_request

if TYPE_CHECKING:
    from .access import AccessGrant

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
