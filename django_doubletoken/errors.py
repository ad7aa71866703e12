"""The error contract's codes: every failure a client must react to has a stable ``code``.

The core (``tokens``, ``store``, ``models``, ``services``) raises these plain exceptions and
knows nothing of HTTP. The face (``authentication``, ``views``, ``middleware``) translates
them, in ``api_errors``, into a status, a ``{"detail", "code"}`` body and a
``WWW-Authenticate`` header.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# What a client should do for each code: refresh, or log in again.
TOKEN_EXPIRED = "token_expired"
TOKEN_INVALID = "token_invalid"
TOKEN_REVOKED = "token_revoked"
SESSION_REVOKED = "session_revoked"
SESSION_EXPIRED = "session_expired"
REFRESH_REUSED = "refresh_reused"
INVALID_CREDENTIALS = "invalid_credentials"
CACHE_UNAVAILABLE = "cache_unavailable"
DATABASE_UNAVAILABLE = "database_unavailable"
SIMPLEJWT_MIGRATION_ENDED = "simplejwt_migration_ended"

MESSAGES = {
    TOKEN_EXPIRED: _("The access token has expired."),
    TOKEN_INVALID: _("The token is invalid."),
    TOKEN_REVOKED: _("The token has been replaced or revoked."),
    SESSION_REVOKED: _("This session has been logged out."),
    SESSION_EXPIRED: _("This session has expired; log in again."),
    REFRESH_REUSED: _("This refresh token was already used; the session has been logged out."),
    INVALID_CREDENTIALS: _("Unable to log in with the provided credentials."),
    CACHE_UNAVAILABLE: _("The token store is unavailable; try again shortly."),
    DATABASE_UNAVAILABLE: _("The database is unavailable; try again shortly."),
    SIMPLEJWT_MIGRATION_ENDED: _(
        "Tokens issued before the switch of sign-in systems are no longer accepted; log in again."
    ),
}


class DoubleTokenError(Exception):
    """Base class: a ``code`` from above and the message a client is shown."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.message = message if message is not None else MESSAGES.get(code, code)
        super().__init__(code)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class TokenError(DoubleTokenError):
    """A token, session or credential the client must replace (refresh, or log in again)."""


class ServiceUnavailable(DoubleTokenError):
    """A backing store (cache, database) is down; nothing was changed, the client may retry."""
