"""What the client keeps and reports, whatever the HTTP library: the stored tokens, the
errors its calls raise, and what it reads from a token or a response body without verifying."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

_MAX_AGE = re.compile(r'\bmax_age="?(\d+)')
_ACR_VALUES = re.compile(r'\bacr_values="([^"]*)"')


@dataclass(frozen=True)
class StoredTokens:
    """What an app persists between runs (tokens are kept out of ``repr`` so logs stay clean)."""

    access: str = field(repr=False)
    refresh: str | None = field(repr=False)

    @property
    def access_expires_at(self) -> datetime | None:
        """Read from the token without verifying it: good for display or scheduling, no more."""
        expires = unverified_claims(self.access).get("exp")
        try:
            return datetime.fromtimestamp(expires, tz=timezone.utc)
        except (TypeError, ValueError, OverflowError):
            return None

    @property
    def session_id(self) -> str | None:
        """This device's session id (as in ``sessions()``), read from the token unverified."""
        sid = unverified_claims(self.access).get("sid")
        return sid if isinstance(sid, str) else None


class RequestFailed(Exception):
    """An endpoint answered with an error: ``status_code``, and the body's ``code`` (None if
    absent) and ``body``."""

    what = "request"

    def __init__(self, status_code: int, body: Any) -> None:
        self.status_code = status_code
        self.code = code_of(body)
        self.body = body
        super().__init__(f"{self.what} failed: HTTP {status_code} {self.code or ''}".strip())


class LoginFailed(RequestFailed):
    """The login endpoint said no; ``code`` is e.g. ``invalid_credentials``."""

    what = "login"


class ReauthenticationFailed(LoginFailed):
    """``reauthenticate()`` was refused: ``invalid_credentials`` (a wrong password; the session
    is untouched), ``throttled``, or the session's own trouble (``session_revoked``...)."""

    what = "re-authentication"


class StepUpRequired(RequestFailed):
    """RFC 9470: the server wants a more recent (``max_age``, in seconds) or a stronger
    (``acr_values``, in order of preference) authentication for this request; the token itself
    is fine. Raised for the 401 ``insufficient_user_authentication``; ``reauthenticate()`` the
    store (e.g. after asking for the password), then send the request again. ``response`` is
    the 401 when an auth class raised it."""

    what = "step-up"

    def __init__(self, status_code: int, body: Any, challenge: str | None = None,
                 response: Any = None) -> None:
        super().__init__(status_code, body)
        self.response = response
        fields = body if isinstance(body, dict) else {}
        challenge = challenge or ""
        max_age = fields.get("max_age")
        if isinstance(max_age, bool) or not isinstance(max_age, int):
            found = _MAX_AGE.search(challenge)
            max_age = int(found.group(1)) if found else None
        self.max_age: int | None = max_age
        acr_values = fields.get("acr_values")
        if not isinstance(acr_values, str):
            found = _ACR_VALUES.search(challenge)
            acr_values = found.group(1) if found else ""
        self.acr_values: tuple[str, ...] = tuple(acr_values.split())


def code_of(body: Any) -> str | None:
    """The ``code`` of an error body, or None."""
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def is_pair(body: Any) -> bool:
    """Whether ``body`` is a token pair as login and refresh answer it."""
    return (isinstance(body, dict) and isinstance(body.get("access"), str)
            and isinstance(body.get("refresh"), str))


def auth_urls(url: str) -> tuple[str, str]:
    """(login URL, refresh URL) from a site root or from the login URL itself."""
    trimmed = url.rstrip("/")
    root = trimmed[: -len("login")] if trimmed.endswith("/login") else trimmed + "/api/auth/"
    return root + "login/", root + "refresh/"


def unverified_claims(token: str) -> dict[str, Any]:
    """A JWT's claims, read without verifying anything (the server does that)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (AttributeError, IndexError, TypeError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}
