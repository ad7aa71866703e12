"""Re-authentication: the user of a live session proves who they are again, and the session
goes on with a fresh ``auth_time`` (RFC 9470 step-up). No new session, no login signal, no
other device touched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from .. import signals, store
from ..claims import custom_claims
from ..errors import SESSION_EXPIRED, SESSION_REVOKED, TOKEN_INVALID, TokenError
from ..models import DeviceSession
from .access import AccessGrant
from .common import (
    database_available,
    note_reissued,
    profile_for,
    session_uuid,
    unix,
    user_pk,
)
from .pairs import TokenPair, issue_pair


def session_user(grant: AccessGrant) -> Any:
    """The user an access token names, loaded (a verifier needs the row); ``TokenError``
    ``session_revoked`` when it is gone (its sessions went with it)."""
    model = get_user_model()
    with database_available():
        try:
            return model._default_manager.get(pk=user_pk(grant.claims.sub))
        except model.DoesNotExist:
            raise TokenError(SESSION_REVOKED) from None


def reauthenticate(session_id: str, user: Any, *, acr: str, amr: Sequence[str],
                   request: HttpRequest | None = None) -> TokenPair:
    """The session ``session_id`` of ``user``, whose identity the caller has just verified
    (with ``acr`` / ``amr``), gets a new pair: same session row, ``auth_time`` now, the
    refresh generation rotated (the previous refresh token then follows the usual rules:
    the same new pair within ``GRACE_PERIOD``, reuse after it).

    ``TokenError``: ``session_revoked`` (revoked or gone), ``token_invalid`` (another user's
    session), ``session_expired``. Sends ``session_reauthenticated``; not ``user_logged_in``.
    """
    sid = session_uuid(session_id)
    now = timezone.now()
    with database_available(), transaction.atomic():
        session = DeviceSession.objects.select_for_update().filter(pk=sid).first()
        if session is None or session.revoked_at is not None:
            raise TokenError(SESSION_REVOKED)
        if str(session.user_id) != str(user.pk):
            raise TokenError(TOKEN_INVALID)
        if now >= session.expires_at:
            raise TokenError(SESSION_EXPIRED)
        profile = profile_for(session.client)
        session.refresh_generation += 1
        session.rotated_at = session.last_used_at = now
        session.refresh_expires_at = min(now + profile.refresh_lifetime,
                                         session.absolute_expires_at)
        # What every token of the session carries from now on; its DPoP binding stays.
        session.context = replace(session.context, auth_time=unix(now), acr=acr,
                                  amr=tuple(amr))
        session.save(update_fields=["refresh_generation", "rotated_at", "last_used_at",
                                    "refresh_expires_at", "auth_time", "acr", "amr"])
        # Inside the transaction: with the cache down nothing changes (503).
        store.mark_used(str(sid))
        pair = issue_pair(session, custom_claims(session, user))
    note_reissued([str(sid)])
    signals.session_reauthenticated.send_robust(sender=DeviceSession, session=session,
                                                request=request)
    return pair
