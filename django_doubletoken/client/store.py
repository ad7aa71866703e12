"""The tokens of one signed-in device (``TokenStore``): every auth object and thread using them
shares one store, which refreshes once for all of them and always presents the newest refresh
token. How a store comes from a login is ``login.LoginCalls``; its account calls (logout,
re-authentication, the device list) are ``account.AccountCalls``."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..flow import adrive, drive
from .account import AccountCalls
from .dpop import DPoPKey, as_key, proof_header, token_call
from .exchange import DEFAULT_NEW_TOKEN_HEADER, LOGOUT_CODES, PROOF_CODES, RENEW_CODES
from .login import LoginCalls
from .tokens import StoredTokens, auth_urls, code_of, is_pair, unverified_claims

# POSTs a JSON payload (``{"refresh": ...}``) with extra headers (a DPoP proof); returns the
# status, the decoded JSON body (None when there is none) and the response headers. Transport
# errors are raised, not returned.
Reply = tuple[int, Any, Mapping[str, str]]
Post = Callable[[str, dict, dict], Reply]
AsyncPost = Callable[[str, dict, dict], Awaitable[Reply]]


class TokenStore(LoginCalls, AccountCalls):
    """The tokens of one signed-in device, shared by every auth object and thread using them.

    The server rotates refresh tokens and treats an old one presented after its grace window as
    stolen, logging the device out. So refreshes of one store are serialised, always present the
    newest refresh token, and a request that failed with a token someone has replaced since
    simply uses the replacement instead of refreshing again.

    Sync refreshes queue on a ``threading.Lock``, async ones on an ``asyncio.Lock`` (one per
    event loop). A sync and an async refresh of the same store may overlap; both present the
    same refresh token within the grace window and get the same new pair, so no harm is done.

    With a DPoP key (``dpop=``), every request of the store's tokens carries a proof signed
    with it, and a session bound to it (its access token's ``cnf.jkt``) sends its token as
    ``Authorization: DPoP``.
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
        dpop: DPoPKey | Any = None,
    ) -> None:
        """``base_url`` is the site root (the refresh URL is then ``/api/auth/refresh/`` under
        it); give ``refresh_url`` instead when the app is mounted elsewhere.

        ``on_tokens(tokens)`` runs whenever the tokens change (login, refresh, slide), for apps
        that persist them. ``on_logout(code)`` runs when the server refused a refresh and the
        tokens were dropped; ``code`` says why (``session_revoked``, ``refresh_reused``, ...).

        ``dpop``: the key the session is (or is to be) bound to: a ``DPoPKey``, a
        ``cryptography`` private key, or True for a new key (see ``DPoPKey``).
        """
        if refresh_url is None:
            if base_url is None:
                raise TypeError("TokenStore needs base_url or refresh_url")
            refresh_url = auth_urls(base_url)[1]
        self.refresh_url = refresh_url
        # The other endpoints are the refresh endpoint's siblings.
        self.auth_url = (
            refresh_url[: -len("refresh/")] if refresh_url.endswith("/refresh/") else None
        )
        self.new_token_header = new_token_header
        self.on_tokens = on_tokens
        self.on_logout = on_logout
        self.dpop = as_key(dpop)
        self._token_type: str | None = None  # from a response; None: read from the token
        self._access = access
        self._refresh = refresh
        self._lock = threading.Lock()  # guards the tokens; never held during I/O or callbacks
        self._refresh_lock = threading.Lock()
        self._step_up_lock = threading.Lock()
        self._async_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

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

    def use_dpop(self, dpop: DPoPKey | Any) -> DPoPKey | None:
        """Give the store a DPoP key if it has none (True: a new one); the store's key. A
        store already holding another key keeps it: ``ValueError``."""
        key = self.dpop if dpop is True and self.dpop is not None else as_key(dpop)
        with self._lock:
            if self.dpop is None:
                self.dpop = key
            elif key is not None and key.thumbprint != self.dpop.thumbprint:
                raise ValueError("this store's tokens are bound to another DPoP key")
        return self.dpop

    @property
    def bound(self) -> bool:
        """Whether the session is bound to the store's DPoP key: as the login or refresh
        response said (``"token_type": "DPoP"``), or for tokens given to the constructor, as
        the access token says (``cnf``)."""
        access, token_type = self._access, self._token_type
        if self.dpop is None or access is None:
            return False
        if token_type is not None:
            return token_type.lower() == "dpop"
        return isinstance(unverified_claims(access).get("cnf"), dict)

    def authorization(self, method: str, url: str, token: str | None) -> dict[str, str]:
        """The headers that authorize a request with ``token``: ``Authorization`` (the DPoP
        scheme for a bound session, else Bearer), and with a DPoP key, a fresh proof."""
        headers = proof_header(self.dpop, method, url, token)
        if token is not None:
            headers["Authorization"] = f"{'DPoP' if self.bound else 'Bearer'} {token}"
        return headers

    def set_tokens(self, access: str, refresh: str, token_type: str | None = None) -> None:
        """Replace both tokens (a new login); calls ``on_tokens``. ``token_type``: the
        response's (``DPoP`` for a session bound to the key); None to read the token."""
        with self._lock:
            self._access, self._refresh = access, refresh
            self._token_type = token_type if isinstance(token_type, str) else None
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
        scheme, _, new = (header_value or "").partition(" ")
        if sent is None or scheme not in ("Bearer", "DPoP"):
            return
        new = new.strip()
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
            call = token_call(self.dpop, self.refresh_url, {"refresh": refresh.token})
            status, body = drive(call, lambda step: post(*step))
            return self._refreshed(refresh.token, status, body)

    async def arenew(self, stale: str, post: AsyncPost) -> str | None:
        """``renew`` for asyncio: waiting requests yield to the event loop, no thread blocks."""
        async with self._async_lock("refresh"):
            refresh = self._refresh_token_for(stale)
            if not isinstance(refresh, _Presented):
                return refresh
            call = token_call(self.dpop, self.refresh_url, {"refresh": refresh.token})
            status, body = await adrive(call, lambda step: post(*step))
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
        if status == 200 and is_pair(body):
            self.set_tokens(body["access"], body["refresh"], body.get("token_type"))
            return body["access"]
        if status == 401 and code_of(body) not in PROOF_CODES:
            with self._lock:
                if self._refresh != presented:  # logged in again meanwhile: keep that
                    return None
                sent = self._access
            self._end_session(sent, code_of(body))
        # Anything else (503 cache_unavailable, 5xx, 429; a DPoP proof refused) is not the
        # session's end: keep the tokens so that a later request can refresh.
        return None

    def _async_lock(self, purpose: str) -> asyncio.Lock:
        # An asyncio.Lock belongs to one event loop; a store may outlive several
        # (asyncio.run per CLI command), so each loop gets its own (one per purpose).
        loop = asyncio.get_running_loop()
        with self._lock:
            locks = self._async_locks.setdefault(loop, {})
            if purpose not in locks:
                locks[purpose] = asyncio.Lock()
            return locks[purpose]

    def _tokens_changed(self, tokens: StoredTokens) -> None:
        if self.on_tokens is not None:
            self.on_tokens(tokens)


@dataclass(frozen=True)
class _Presented:
    token: str = field(repr=False)


_RENEW = object()
