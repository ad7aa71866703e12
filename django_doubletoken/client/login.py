"""Logging in: the classmethods that make a ``TokenStore`` from a login (``login``, ``alogin``)
or from a login response fetched some other way (``from_response``)."""

from __future__ import annotations

from typing import Any

from ..flow import adrive, drive
from .dpop import DPoPKey, as_key, token_call
from .tokens import LoginFailed, StoredTokens, auth_urls, is_pair
from .transport import async_transport, sync_transport


class LoginCalls:
    """How a ``TokenStore`` comes to be from a login (a mixin)."""

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
        dpop: DPoPKey | Any = None,
        **options: Any,
    ) -> Any:
        """Log in and return a store holding the new pair (``on_tokens`` is called with it).

        ``url`` is the site root or the login URL itself (``.../login/``); the refresh URL is
        its sibling. ``client`` picks the server's client profile (``web``, ``mobile``);
        ``device`` is the label shown in the user's device list. ``username_field`` is the
        body's field: the server takes ``username`` for any user model's ``USERNAME_FIELD``,
        or that field's own name (``"email"``, say). Uses requests if installed, else httpx.
        ``dpop``: True (a new key) or your key binds the session to it (the login carries a
        proof). Raises ``LoginFailed`` when the server refuses.
        """
        key, call = _login_call(url, username, password, device, client, username_field, dpop)
        transport = sync_transport("TokenStore.login")
        status, body = drive(call, lambda step: transport.post_once(*step, timeout))
        return cls._logged_in(url, status, body, key, options)

    @classmethod
    async def alogin(cls, url: str, username: str, password: str, *,
                     device: str | None = None, client: str | None = None,
                     username_field: str = "username", timeout: float = 10.0,
                     dpop: DPoPKey | Any = None, **options: Any) -> Any:
        """``login`` for asyncio (with httpx)."""
        key, call = _login_call(url, username, password, device, client, username_field, dpop)
        transport = async_transport()
        status, body = await adrive(call, lambda step: transport.apost_once(*step, timeout))
        return cls._logged_in(url, status, body, key, options)

    @classmethod
    def _logged_in(cls, url: str, status: int, body: Any, key: DPoPKey | None,
                   options: dict[str, Any]) -> Any:
        if status != 200 or not is_pair(body):
            raise LoginFailed(status, body)
        options.setdefault("refresh_url", auth_urls(url)[1])
        return cls.from_response(body, dpop=key, **options)

    @classmethod
    def from_response(cls, data: dict, **options: Any) -> Any:
        """A store from a login (or refresh) response body you fetched yourself; ``options``
        as for the constructor (give ``dpop=`` the key whose proof the login carried). Calls
        ``on_tokens``."""
        store = cls(data["access"], data["refresh"], **options)
        token_type = data.get("token_type")
        store._token_type = token_type if isinstance(token_type, str) else None
        store._tokens_changed(StoredTokens(data["access"], data["refresh"]))
        return store


def _login_call(url: str, username: str, password: str, device: str | None,
                client: str | None, username_field: str, dpop: Any) -> tuple[DPoPKey | None, Any]:
    """The login's key and its POST (a ``dpop.token_call``)."""
    payload = {username_field: username, "password": password}
    if device is not None:
        payload["device"] = device
    if client is not None:
        payload["client"] = client
    key = as_key(dpop)
    return key, token_call(key, auth_urls(url)[0], payload)
