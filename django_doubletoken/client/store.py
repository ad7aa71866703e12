"""The tokens of one signed-in device (``TokenStore``), and the account calls made with them."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import weakref
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import ERROR_CODES, LOGIN, RENEW_ACTIONS
from ..flow import adrive, drive
from .exchange import code_of

try:
    from . import requests_auth
except ImportError:  # requests is optional: the app itself never needs it
    requests_auth = None
try:
    from . import httpx_auth
except ImportError:  # optional
    httpx_auth = None

DEFAULT_NEW_TOKEN_HEADER = "NEW_HTTP_AUTHORIZATION"
# What a 401 means, by its code's action in the server's table: a refresh cures it...
RENEW_CODES = frozenset(code for code, entry in ERROR_CODES.items()
                        if entry.status == 401 and entry.action in RENEW_ACTIONS)
# ...or the session is over and only a new login helps. Any other 401 is returned as it is.
LOGOUT_CODES = frozenset(code for code, entry in ERROR_CODES.items()
                         if entry.status == 401 and entry.action == LOGIN)

# Sends ``{"refresh": ...}`` to the refresh URL; returns the status and the decoded JSON body
# (None when there is none). Transport errors are raised, not returned.
Post = Callable[[str, dict], tuple[int, Any]]
AsyncPost = Callable[[str, dict], Awaitable[tuple[int, Any]]]
# An account call: yields (method, path relative to the auth URL), receives (status, body).
AccountFlow = Generator[tuple[str, str], tuple[int, Any], Any]


@dataclass(frozen=True)
class StoredTokens:
    """What an app persists between runs (tokens are kept out of ``repr`` so logs stay clean)."""

    access: str = field(repr=False)
    refresh: str | None = field(repr=False)

    @property
    def access_expires_at(self) -> datetime | None:
        """Read from the token without verifying it: good for display or scheduling, no more."""
        expires = _unverified_claims(self.access).get("exp")
        try:
            return datetime.fromtimestamp(expires, tz=timezone.utc)
        except (TypeError, ValueError, OverflowError):
            return None

    @property
    def session_id(self) -> str | None:
        """This device's session id (as in ``sessions()``), read from the token unverified."""
        sid = _unverified_claims(self.access).get("sid")
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


class TokenStore:
    """The tokens of one signed-in device, shared by every auth object and thread using them.

    The server rotates refresh tokens and treats an old one presented after its grace window as
    stolen, logging the device out. So refreshes of one store are serialised, always present the
    newest refresh token, and a request that failed with a token someone has replaced since
    simply uses the replacement instead of refreshing again.

    Sync refreshes queue on a ``threading.Lock``, async ones on an ``asyncio.Lock`` (one per
    event loop). A sync and an async refresh of the same store may overlap; both present the
    same refresh token within the grace window and get the same new pair, so no harm is done.
    """

    def __init__(
        self,
        access: str | None,
        refresh: str | None,
        *,
        base_url: str | None = None,
        refresh_url: str | None = None,
        new_token_header: str = DEFAULT_NEW_TOKEN_HEADER,
        on_tokens: Callable[[StoredTokens], None] | None = None,
        on_logout: Callable[[str | None], None] | None = None,
    ) -> None:
        """``base_url`` is the site root (the refresh URL is then ``/api/auth/refresh/`` under
        it); give ``refresh_url`` instead when the app is mounted elsewhere.

        ``on_tokens(tokens)`` runs whenever the tokens change (login, refresh, slide), for apps
        that persist them. ``on_logout(code)`` runs when the server refused a refresh and the
        tokens were dropped; ``code`` says why (``session_revoked``, ``refresh_reused``, ...).
        """
        if refresh_url is None:
            if base_url is None:
                raise TypeError("TokenStore needs base_url or refresh_url")
            refresh_url = _auth_urls(base_url)[1]
        self.refresh_url = refresh_url
        # The other endpoints are the refresh endpoint's siblings.
        self.auth_url = (
            refresh_url[: -len("refresh/")] if refresh_url.endswith("/refresh/") else None
        )
        self.new_token_header = new_token_header
        self.on_tokens = on_tokens
        self.on_logout = on_logout
        self._access = access
        self._refresh = refresh
        self._lock = threading.Lock()  # guards the tokens; never held during I/O or callbacks
        self._refresh_lock = threading.Lock()
        self._async_refresh_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @classmethod
    def login(
        cls,
        url: str,
        username: str,
        password: str,
        *,
        device: str | None = None,
        client: str | None = None,
        username_field: str = "username",
        timeout: float = 10.0,
        **options: Any,
    ) -> TokenStore:
        """Log in and return a store holding the new pair (``on_tokens`` is called with it).

        ``url`` is the site root or the login URL itself (``.../login/``); the refresh URL is
        its sibling. ``client`` picks the server's client profile (``web``, ``mobile``);
        ``device`` is the label shown in the user's device list. ``username_field`` is the
        body's field: the server takes ``username`` for any user model's ``USERNAME_FIELD``,
        or that field's own name (``"email"``, say). Uses requests if installed, else httpx.
        Raises ``LoginFailed`` when the server refuses.
        """
        login_url, refresh_url = _auth_urls(url)
        payload = {username_field: username, "password": password}
        if device is not None:
            payload["device"] = device
        if client is not None:
            payload["client"] = client
        status, body = _transport("TokenStore.login").post_once(login_url, payload, timeout)
        if status != 200 or not _is_pair(body):
            raise LoginFailed(status, body)
        options.setdefault("refresh_url", refresh_url)
        return cls.from_response(body, **options)

    @classmethod
    def from_response(cls, data: dict, **options: Any) -> TokenStore:
        """A store from a login (or refresh) response body you fetched yourself, e.g. with an
        ``httpx.AsyncClient``; ``options`` as for the constructor. Calls ``on_tokens``."""
        store = cls(data["access"], data["refresh"], **options)
        store._tokens_changed(StoredTokens(data["access"], data["refresh"]))
        return store

    @property
    def access(self) -> str | None:
        return self._access

    @property
    def refresh(self) -> str | None:
        return self._refresh

    @property
    def tokens(self) -> StoredTokens | None:
        with self._lock:
            if self._access is None:
                return None
            return StoredTokens(self._access, self._refresh)

    @property
    def session_id(self) -> str | None:
        tokens = self.tokens
        return tokens.session_id if tokens is not None else None

    def set_tokens(self, access: str, refresh: str) -> None:
        """Replace both tokens (a new login); calls ``on_tokens``."""
        with self._lock:
            self._access, self._refresh = access, refresh
        self._tokens_changed(StoredTokens(access, refresh))

    def clear(self) -> None:
        """Drop the tokens, e.g. after calling the logout endpoint. ``on_logout`` is not
        called: it is for logouts the app did not ask for."""
        with self._lock:
            self._access = self._refresh = None

    def accept_slid(self, sent: str | None, header_value: str | None) -> None:
        """Swap in the token the server slid in for ``sent``.

        Only while ``sent`` is still the current token: a slow response to an old request must
        not put back a token older than one a refresh has brought in the meantime.
        """
        if sent is None or not header_value or not header_value.startswith("Bearer "):
            return
        new = header_value[len("Bearer "):].strip()
        with self._lock:
            if self._access != sent or not new:
                return
            self._access = new
            tokens = StoredTokens(new, self._refresh)
        self._tokens_changed(tokens)

    def recover(self, sent: str, code: str | None, post: Post, *, replayed: bool = False
                ) -> str | None:
        """A request sent with ``sent`` got a 401 with ``code``: the access token to send it
        again with, or None to return the 401 as it is.

        A token replaced meanwhile (slid, refreshed) is simply used. Otherwise ``RENEW_CODES``
        refresh once and ``LOGOUT_CODES`` clear the tokens and call ``on_logout(code)``.
        ``replayed`` (the request was already sent again once) only ever logs out, so that a
        server that keeps answering 401 cannot cause a loop.
        """
        decision = self._recovery(sent, code, replayed)
        return self.renew(sent, post) if decision is _RENEW else decision

    async def arecover(self, sent: str, code: str | None, post: AsyncPost, *,
                       replayed: bool = False) -> str | None:
        """``recover`` for asyncio."""
        decision = self._recovery(sent, code, replayed)
        return await self.arenew(sent, post) if decision is _RENEW else decision

    def _recovery(self, sent: str, code: str | None, replayed: bool) -> str | None | object:
        """``recover``'s answer, or ``_RENEW`` when it is for a refresh to give."""
        with self._lock:
            current = self._access
        if current != sent:
            return None if replayed else current
        if code in LOGOUT_CODES:
            self._end_session(sent, code)
        elif code in RENEW_CODES and not replayed:
            return _RENEW
        return None

    def _end_session(self, sent: str | None, code: str | None) -> None:
        """The server says the session of ``sent`` is over: drop the tokens, unless newer ones
        (a login meanwhile) are stored, and tell the app."""
        with self._lock:
            if sent is not None and self._access != sent:
                return
            self._access = self._refresh = None
        if self.on_logout is not None:
            self.on_logout(code)

    def renew(self, stale: str, post: Post) -> str | None:
        """An access token to use instead of the expired ``stale`` one, refreshing once if no
        one has replaced it yet; None when there is none (logged out, or the refresh failed).

        A transport error from ``post`` propagates, with the tokens left as they were.
        """
        with self._refresh_lock:
            refresh = self._refresh_token_for(stale)
            if not isinstance(refresh, _Presented):
                return refresh
            status, body = post(self.refresh_url, {"refresh": refresh.token})
            return self._refreshed(refresh.token, status, body)

    async def arenew(self, stale: str, post: AsyncPost) -> str | None:
        """``renew`` for asyncio: waiting requests yield to the event loop, no thread blocks."""
        async with self._async_refresh_lock():
            refresh = self._refresh_token_for(stale)
            if not isinstance(refresh, _Presented):
                return refresh
            status, body = await post(self.refresh_url, {"refresh": refresh.token})
            return self._refreshed(refresh.token, status, body)

    def _refresh_token_for(self, stale: str) -> _Presented | str | None:
        """The refresh token to present, or (when ``stale`` was replaced already, or there is
        nothing to present) the access token to use without refreshing."""
        with self._lock:
            if self._access != stale:
                return self._access
            if self._refresh is None:
                return None
            return _Presented(self._refresh)

    def _refreshed(self, presented: str, status: int, body: Any) -> str | None:
        if status == 200 and _is_pair(body):
            self.set_tokens(body["access"], body["refresh"])
            return body["access"]
        if status == 401:
            with self._lock:
                if self._refresh != presented:  # logged in again meanwhile: keep that
                    return None
                sent = self._access
            self._end_session(sent, code_of(body))
        # Anything else (503 cache_unavailable, 5xx, 429) is the server's trouble, not the
        # session's: keep the tokens so that a later request can refresh.
        return None

    def _async_refresh_lock(self) -> asyncio.Lock:
        # An asyncio.Lock belongs to one event loop; a store may outlive several
        # (asyncio.run per CLI command), so each loop gets its own.
        loop = asyncio.get_running_loop()
        with self._lock:
            lock = self._async_refresh_locks.get(loop)
            if lock is None:
                lock = self._async_refresh_locks[loop] = asyncio.Lock()
            return lock

    def _tokens_changed(self, tokens: StoredTokens) -> None:
        if self.on_tokens is not None:
            self.on_tokens(tokens)

    # --- account calls (each one like any other request: slides, refreshes, logouts) ---
    # Each is one flow (``_logout_flow``, ...), driven by ``_call`` or ``_acall``.

    def logout(self, *, timeout: float = 10.0) -> bool:
        """Log this device out (``POST logout/``). The tokens are dropped here in any case,
        even when the server could not be reached (the error is then raised); True when the
        server confirmed."""
        return self._run(self._logout_flow("logout/"), timeout)

    def logout_all(self, *, timeout: float = 10.0) -> bool:
        """Log every device of the user out (``POST logout-all/``); as ``logout()``."""
        return self._run(self._logout_flow("logout-all/"), timeout)

    def sessions(self, *, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The user's signed-in devices (``GET sessions/``); ``current`` marks this one.
        Raises ``RequestFailed``."""
        return self._run(self._sessions_flow(), timeout)

    def revoke_session(self, session_id: str, *, timeout: float = 10.0) -> bool:
        """Log one of the user's devices out (``DELETE sessions/<id>/``); this one's id works
        like ``logout()``. False when the user has no such session; ``RequestFailed`` for any
        other refusal."""
        return self._run(self._revoke_flow(session_id), timeout)

    async def alogout(self, *, timeout: float = 10.0) -> bool:
        return await self._arun(self._logout_flow("logout/"), timeout)

    async def alogout_all(self, *, timeout: float = 10.0) -> bool:
        return await self._arun(self._logout_flow("logout-all/"), timeout)

    async def asessions(self, *, timeout: float = 10.0) -> list[dict[str, Any]]:
        return await self._arun(self._sessions_flow(), timeout)

    async def arevoke_session(self, session_id: str, *, timeout: float = 10.0) -> bool:
        return await self._arun(self._revoke_flow(session_id), timeout)

    def _logout_flow(self, path: str) -> AccountFlow:
        session_id = self.session_id
        if session_id is None:
            return False
        try:
            status, _ = yield "POST", path
        finally:
            self._drop_session(session_id)
        return status == 204

    def _sessions_flow(self) -> AccountFlow:
        status, body = yield "GET", "sessions/"
        if status != 200 or not isinstance(body, list):
            raise RequestFailed(status, body)
        return body

    def _revoke_flow(self, session_id: str) -> AccountFlow:
        current = self.session_id
        status, body = yield "DELETE", f"sessions/{session_id}/"
        if status == 404:
            return False
        if status != 204:
            raise RequestFailed(status, body)
        if session_id == current:
            self._drop_session(current)
        return True

    def _drop_session(self, session_id: str) -> None:
        """Drop the tokens of a session the app logged out (refreshed or slid during the call,
        maybe), but not those of a new login meanwhile."""
        with self._lock:
            if (self._access is not None
                    and StoredTokens(self._access, None).session_id == session_id):
                self._access = self._refresh = None

    def _run(self, flow: AccountFlow, timeout: float) -> Any:
        return drive(flow, lambda call: _transport("TokenStore").send(
            self, call[0], self._url(call[1]), timeout))

    async def _arun(self, flow: AccountFlow, timeout: float) -> Any:
        if httpx_auth is None:
            raise ImportError("TokenStore's coroutines need httpx: pip install httpx")
        return await adrive(
            flow, lambda call: httpx_auth.asend(self, call[0], self._url(call[1]), timeout))

    def _url(self, path: str) -> str:
        if self.auth_url is None:
            raise ValueError(f"refresh_url {self.refresh_url!r} does not end in /refresh/: "
                             "the other endpoints cannot be found next to it")
        return self.auth_url + path


@dataclass(frozen=True)
class _Presented:
    token: str = field(repr=False)


_RENEW = object()


def _transport(what: str) -> Any:
    """The HTTP library's module for the store's own calls: requests if installed, else
    httpx."""
    transport = requests_auth or httpx_auth
    if transport is None:
        raise ImportError(f"{what} needs requests or httpx: pip install requests")
    return transport


def _auth_urls(url: str) -> tuple[str, str]:
    """(login URL, refresh URL) from a site root or from the login URL itself."""
    trimmed = url.rstrip("/")
    root = trimmed[: -len("login")] if trimmed.endswith("/login") else trimmed + "/api/auth/"
    return root + "login/", root + "refresh/"


def _is_pair(body: Any) -> bool:
    return (isinstance(body, dict) and isinstance(body.get("access"), str)
            and isinstance(body.get("refresh"), str))


def _unverified_claims(token: str) -> dict[str, Any]:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (AttributeError, IndexError, TypeError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}
