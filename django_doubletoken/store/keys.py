"""The store's key names and the values kept under them.

``<prefix>:s:{<sid>}``  session state ``(user pk, revoke reason or "")``: ``SessionState``.
``<prefix>:j:{<sid>}:<jti>``  the token that replaced access token ``jti``: ``Successor``.
``<prefix>:u:{<sid>}``  present while the session's ``last_used_at`` is fresh.
``<prefix>:throttle:<scope>:<client>``  a throttle's request history.

Every key of a session carries its id as a {hash tag}, so sharded clients and Redis Cluster
keep a session's keys together on one node.
"""

from __future__ import annotations

from typing import NamedTuple

from ..conf import doubletoken_settings


class SessionState(NamedTuple):
    user: str
    revoke_reason: str  # "" while the session is active

    @property
    def revoked(self) -> bool:
        return bool(self.revoke_reason)


class Successor(NamedTuple):
    token: str
    issued_at: int


def session_key(sid: str) -> str:
    return f"{doubletoken_settings.CACHE_KEY_PREFIX}:s:{{{sid}}}"


def successor_key(sid: str, jti: str) -> str:
    return f"{doubletoken_settings.CACHE_KEY_PREFIX}:j:{{{sid}}}:{jti}"


def used_key(sid: str) -> str:
    return f"{doubletoken_settings.CACHE_KEY_PREFIX}:u:{{{sid}}}"


def throttle_key(scope: str, ident: str) -> str:
    return f"{doubletoken_settings.CACHE_KEY_PREFIX}:throttle:{scope}:{ident}"
