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


def issue_pair(session: DeviceSession, custom: Mapping[str, Any] | None = None) -> TokenPair:
    """The token pair of the session's current refresh generation.

    A function of the row (and the ``custom`` claims, from ``claims.custom_claims``) alone:
    called again within the grace window it returns the same tokens (same claims and, with
    deterministic algorithms like HS256/RS256, same strings).
    """
    issued = unix(session.rotated_at or session.created_at)
    refresh_exp = unix(session.expires_at)
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
        custom=custom,
    )
    refresh = tokens.encode_refresh(
        sub=sub,
        sid=sid,
        generation=session.refresh_generation,
        iat=issued,
        exp=refresh_exp,
        client=session.client,
        absolute_expires=unix(session.absolute_expires_at),
    )
    return TokenPair(
        access=access,
        refresh=refresh,
        access_expires_at=from_unix(access_exp),
        refresh_expires_at=from_unix(refresh_exp),
        session_id=sid,
    )
