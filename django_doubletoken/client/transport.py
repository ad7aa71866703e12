"""The HTTP library the store's own calls use (login, account calls): requests if installed,
else httpx. Neither is a dependency of the app, so both are imported here optionally."""

from __future__ import annotations

from typing import Any

try:
    from . import requests_auth
except ImportError:  # requests is optional: the app itself never needs it
    requests_auth = None
try:
    from . import httpx_auth
except ImportError:  # optional
    httpx_auth = None


def sync_transport(what: str) -> Any:
    """The module (``requests_auth`` or ``httpx_auth``) for a blocking call of ``what``."""
    transport = requests_auth or httpx_auth
    if transport is None:
        raise ImportError(f"{what} needs requests or httpx: pip install requests")
    return transport


def async_transport() -> Any:
    """``httpx_auth``, the one library here with coroutines."""
    if httpx_auth is None:
        raise ImportError("TokenStore's coroutines need httpx: pip install httpx")
    return httpx_auth
