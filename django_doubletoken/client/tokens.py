"""What the client keeps and reports, whatever the HTTP library: the stored tokens, the
errors its calls raise, and what it reads from a token or a response body without verifying."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .exchange import code_of


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
