"""The token pair a session hands out at login and at each rotation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import tokens
from ..models import DeviceSession
from .common import from_unix, profile_for, unix


@dataclass(frozen=True)
class TokenPair:
    """What login and refresh return; ``serializers.TokenPairSerializer`` is its JSON shape."""

    access: str
    refresh: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    session_id: str
    # RFC 9449 §5: a pair bound to a DPoP key is used with the "DPoP" scheme.
    token_type: str = "Bearer"


def issue_pair(session: DeviceSession, custom: Mapping[str, Any] | None = None) -> TokenPair:
    """The token pair of the session's current refresh generation.

    A function of the row (and the ``custom`` claims, from ``claims.custom_claims``) alone:
    called again within the grace window it returns the same tokens (same claims and, with
    deterministic algorithms like HS256/RS256, same strings).
    """
    return pair_of_row(
        sid=str(session.pk),
        sub=str(session.user_id),
        client=session.client,
        generation=session.refresh_generation,
        issued_at=session.rotated_at or session.created_at,
        expires_at=session.expires_at,
        absolute_expires_at=session.absolute_expires_at,
        custom=custom,
        context=session.context,
    )


def pair_of_row(
    *, sid: str, sub: str, client: str, generation: int, issued_at: datetime,
    expires_at: datetime, absolute_expires_at: datetime,
    custom: Mapping[str, Any] | None = None, context: tokens.SessionContext = tokens.NO_CONTEXT,
) -> TokenPair:
    """``issue_pair`` from the row's values (``issued_at``: when its generation began,
    ``expires_at``: the earlier of its refresh and absolute expiries), for a caller that knows
    them without a ``DeviceSession`` instance (building one costs more than an encode)."""
    issued = unix(issued_at)
    refresh_exp = unix(expires_at)
    profile = profile_for(client)
    access_exp = min(issued + int(profile.access_lifetime.total_seconds()), refresh_exp)
    access = tokens.encode_access(
        sub=sub,
        sid=sid,
        jti=tokens.derived_jti(sid, generation, "access"),
        iat=issued,
        exp=access_exp,
        client=client,
        session_expires=refresh_exp,
        custom=custom,
        context=context,
    )
    refresh = tokens.encode_refresh(
        sub=sub,
        sid=sid,
        generation=generation,
        iat=issued,
        exp=refresh_exp,
        client=client,
        absolute_expires=unix(absolute_expires_at),
        context=context,
    )
    return TokenPair(
        access=access,
        refresh=refresh,
        access_expires_at=from_unix(access_exp),
        refresh_expires_at=from_unix(refresh_exp),
        session_id=sid,
        token_type="DPoP" if context.bound else "Bearer",
    )
