"""What every lifecycle step shares: the database guard, a token's ids as database keys, the
client profile of a session, how long a session's state stays cached, and the sessions the
current request revoked."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError

from .. import tokens
from ..conf import ClientProfile, doubletoken_settings
from ..database import is_outage, note_schema_error
from ..errors import DATABASE_UNAVAILABLE, TOKEN_INVALID, ServiceUnavailable, TokenError

logger = logging.getLogger("django_doubletoken")


@contextmanager
def database_available() -> Iterator[None]:
    """Turn an unreachable or locked database into a 503 ``database_unavailable`` (retry);
    a schema error (a forgotten ``migrate``) goes on as the 500 it is, with a hint."""
    try:
        yield
    except DatabaseError as exc:
        if not is_outage(exc):
            note_schema_error(exc)
            raise
        logger.warning("database unavailable: %s", exc)
        raise ServiceUnavailable(DATABASE_UNAVAILABLE) from exc


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=dt_timezone.utc)


def profile_for(name: str) -> ClientProfile:
    """The session's profile; the default one if the project has since removed it."""
    try:
        return doubletoken_settings.profile(name)
    except KeyError:
        return doubletoken_settings.profile(doubletoken_settings.DEFAULT_CLIENT)


def user_pk(sub: str) -> Any:
    """The user pk a token's ``sub`` names; ``TokenError`` when it cannot be one."""
    try:
        return get_user_model()._meta.pk.to_python(sub)
    except ValidationError:
        raise TokenError(TOKEN_INVALID) from None


def session_uuid(sid: str) -> uuid.UUID:
    try:
        return uuid.UUID(sid)
    except (ValueError, AttributeError, TypeError):
        raise TokenError(TOKEN_INVALID) from None


def revoked_state_ttl() -> float:
    """How long a revoked state must stay cached: until no access token of it can be valid."""
    return tokens.longest_access_seconds() + doubletoken_settings.GRACE_PERIOD.total_seconds()


def active_state_ttl(refresh_expires_at: datetime, now: datetime) -> float:
    # No access token outlives the refresh expiry it was issued under; after a rotation the
    # entry expires early and is read through again, once.
    return (refresh_expires_at - now + doubletoken_settings.LEEWAY).total_seconds()


# The ids of the sessions revoked while the current request is handled, so that its response
# never carries a successor of a token the request itself logged out, whichever code revoked
# it (logout, logout-all, a password change, an admin action). The set is shared by
# reference: the contexts asgiref copies to run a sync view under ASGI add to this same set.
_revoked_in_request: ContextVar[set[str] | None] = ContextVar(
    "doubletoken_revoked_in_request", default=None
)


# Set by the sliding middleware around its request: authentication may then store the
# successor of a token inside the window in its own round trip (``authenticate_access``).
_sliding_request: ContextVar[bool] = ContextVar("doubletoken_sliding_request", default=False)


@contextmanager
def request_scope(*, sliding: bool = False) -> Iterator[None]:
    """Remember, until the block ends, which sessions were revoked inside it (one request);
    ``sliding``: the sliding middleware handles this request."""
    token = _revoked_in_request.set(set())
    sliding_token = _sliding_request.set(sliding)
    try:
        yield
    finally:
        _sliding_request.reset(sliding_token)
        _revoked_in_request.reset(token)


def sliding_request() -> bool:
    """Whether the request being handled goes through the sliding middleware."""
    return _sliding_request.get()


def note_revoked(session_ids: Iterable[str]) -> None:
    revoked = _revoked_in_request.get()
    if revoked is not None:
        revoked.update(session_ids)


def note_reissued(session_ids: Iterable[str]) -> None:
    """The request handed these sessions a new pair (re-authentication): as after a
    revocation, its response must not also carry a successor of the token it came with (that
    one would carry the old ``auth_time``)."""
    note_revoked(session_ids)


def revoked_in_request(session_id: str) -> bool:
    """Whether the request being handled revoked this session (outside a request: False)."""
    revoked = _revoked_in_request.get()
    return revoked is not None and session_id in revoked
