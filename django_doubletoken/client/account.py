"""The account calls of a ``TokenStore``: ``logout()``, ``logout_all()``, ``logout_others()``,
``sessions()``, ``revoke_session(id)`` and ``reauthenticate(password)``, each also as an
``a``-prefixed coroutine (with httpx).

Each call is one flow (``django_doubletoken.flow``) that yields (method, path relative to the
auth URL[, JSON payload]) and receives (status, body); ``_run`` drives it with the blocking library,
``_arun`` with httpx's async client. Each is sent like any other request of the app, through
the library's auth class: it slides, refreshes and logs out as they do.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import Any

from ..flow import adrive, drive
from .tokens import (
    ReauthenticationFailed,
    RequestFailed,
    StepUpRequired,
    StoredTokens,
    is_pair,
)
from .transport import async_transport, sync_transport

# An account call: yields (method, path relative to the auth URL[, JSON payload]), receives
# (status, body).
AccountFlow = Generator[tuple, tuple[int, Any], Any]


class AccountCalls:
    """What ``TokenStore`` can ask of the server's account endpoints (a mixin: the store's
    tokens, lock, ``session_id`` and ``auth_url`` are the ones it uses)."""

    def logout(self, *, timeout: float = 10.0) -> bool:
        """Log this device out (``POST logout/``). The tokens are dropped here in any case,
        even when the server could not be reached (the error is then raised); True when the
        server confirmed."""
        return self._run(self._logout_flow("logout/"), timeout)

    def logout_all(self, *, timeout: float = 10.0) -> bool:
        """Log every device of the user out (``POST logout-all/``); as ``logout()``."""
        return self._run(self._logout_flow("logout-all/"), timeout)

    def logout_others(self, *, timeout: float = 10.0) -> int:
        """Log every other device of the user out (``POST logout-others/``); this one stays
        signed in. How many sessions were revoked; ``RequestFailed`` (``StepUpRequired`` when
        the server wants a recent authentication first)."""
        return self._run(self._logout_others_flow(), timeout)

    def reauthenticate(self, password: str, *, timeout: float = 10.0,
                       **fields: Any) -> StoredTokens:
        """Prove again who the user is (``POST reauthenticate/``), e.g. after a
        ``StepUpRequired``: the same session gets a new pair with a fresh ``auth_time``, stored
        here (``on_tokens``); no other device is touched. ``fields`` go into the body too (a
        project's own verifier: ``method="totp", code=...``). ``ReauthenticationFailed`` when
        refused (``invalid_credentials``: the session is untouched)."""
        return self._run(self._reauthenticate_flow(password, fields), timeout)

    def step_up(self, sent: str, error: StepUpRequired,
                answer: Callable[[StepUpRequired], Any] | None) -> str | None:
        """A request sent with ``sent`` met a step-up guard: the token to send it again with,
        or None to raise ``error``. ``answer(error)`` (an auth's ``on_step_up``: ask for the
        password, ``reauthenticate()``, return True) runs once for all the requests refused
        together: those that waited for it use its new token."""
        if answer is None:
            return None
        with self._step_up_lock:
            if self.access != sent:  # re-authenticated (or refreshed) meanwhile
                return self.access
            return self.access if answer(error) and self.access != sent else None

    async def astep_up(self, sent: str, error: StepUpRequired,
                       answer: Callable[[StepUpRequired], Any] | None) -> str | None:
        """``step_up`` for asyncio: ``answer`` may be a coroutine function."""
        if answer is None:
            return None
        async with self._async_lock("step_up"):
            if self.access != sent:
                return self.access
            answered = answer(error)
            if inspect.isawaitable(answered):
                answered = await answered
            return self.access if answered and self.access != sent else None

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

    async def alogout_others(self, *, timeout: float = 10.0) -> int:
        return await self._arun(self._logout_others_flow(), timeout)

    async def areauthenticate(self, password: str, *, timeout: float = 10.0,
                              **fields: Any) -> StoredTokens:
        return await self._arun(self._reauthenticate_flow(password, fields), timeout)

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

    def _logout_others_flow(self) -> AccountFlow:
        status, body = yield "POST", "logout-others/"
        if status != 200 or not isinstance(body, dict):
            raise RequestFailed(status, body)
        revoked = body.get("revoked")
        return revoked if isinstance(revoked, int) else 0

    def _reauthenticate_flow(self, password: str, fields: dict[str, Any]) -> AccountFlow:
        status, body = yield "POST", "reauthenticate/", {"password": password, **fields}
        if status != 200 or not is_pair(body):
            raise ReauthenticationFailed(status, body)
        tokens = StoredTokens(body["access"], body["refresh"])
        if self.session_id == tokens.session_id:  # not if another login came meanwhile
            self.set_tokens(tokens.access, tokens.refresh, body.get("token_type"))
        return tokens

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
        return drive(flow, lambda call: sync_transport("TokenStore").send(
            self, call[0], self._url(call[1]), timeout, *call[2:]))

    async def _arun(self, flow: AccountFlow, timeout: float) -> Any:
        transport = async_transport()
        return await adrive(
            flow, lambda call: transport.asend(self, call[0], self._url(call[1]), timeout,
                                               *call[2:]))

    def _url(self, path: str) -> str:
        if self.auth_url is None:
            raise ValueError(f"refresh_url {self.refresh_url!r} does not end in /refresh/: "
                             "the other endpoints cannot be found next to it")
        return self.auth_url + path
