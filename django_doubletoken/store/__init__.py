"""Everything kept in the Django cache, under three kinds of key:

``<prefix>:s:{<sid>}``  session state ``(user pk, revoke reason or "")``, read through from the
                      database. Only revocation overwrites it; refills use ``add``, so a refill
                      racing a revocation can never put "active" back over "revoked".
``<prefix>:j:{<sid>}:<jti>``  an access token that was replaced by the sliding middleware:
                      ``(successor token, issued at)``. Written with ``add`` (first writer wins);
                      the old token is refused once ``GRACE_PERIOD`` has passed since
                      ``issued at``, and the key expires with the old token itself.
``<prefix>:u:{<sid>}``  present while the session's ``last_used_at`` is fresh, so the database
                      is written at most once per ``LAST_USED_UPDATE_INTERVAL``.

Besides, ``<prefix>:throttle:<scope>:<client>`` holds the login throttle's request history.

A request's checks read all three in one ``get_many`` (one round trip); a DPoP request's
replay record (``<prefix>:dpop:{<jkt>}:<jti digest>``, ``dpop.replay``) is created in that same
round trip. Connection failures become ``ServiceUnavailable("cache_unavailable")``, a 503
that changes nothing.

The package, one concern a module; every name is importable from ``django_doubletoken.store``:

``base``        which cache (``cache()``, ``async_cache()``, ``_acall``) and error mapping
                (``available()``, ``CACHE_ERRORS``)
``raw``         the Redis client beneath the Django cache: pipelines, one-write sends,
                reads from the primary
``keys``        key names and the values stored under them
``request``     the request's one-round-trip read (MGET, DPoP replay SET NX, the slide's SET NX)
``sessions``    session state writes: open (with the login throttle), remember, revoke
``throttle``    the throttle's history and its Lua script
``successors``  the successor of a slid token
``last_used``   the last-used marker, and its SET overlapped with the refresh's UPDATE
"""

from django.core.cache import caches

from ..errors import ServiceUnavailable
from .base import (  # noqa: F401
    CACHE_ERRORS,
    SET_MANY_WITHOUT_TIMEOUT,
    _acall,
    _invalidate_local,
    _ttl,
    async_cache,
    available,
    cache,
    logger,
)
from .keys import SessionState, Successor, session_key, successor_key, throttle_key, used_key
from .last_used import (  # noqa: F401
    _read_reply,
    _sender,
    claim_last_used_write,
    mark_used,
    marking_used,
)
from .raw import (  # noqa: F401
    _codec,
    _connection,
    _decoder,
    _pipeline,
    _raw_client,
    _read_from_primary,
    _send_together,
)
from .request import (  # noqa: F401
    Offer,
    RequestState,
    _read_and_record,
    _request_keys,
    _request_state,
    aread_request_state,
    aread_request_state_offering,
    read_request_state,
    read_request_state_offering,
)
from .sessions import (  # noqa: F401
    _primaries_holding,
    _wait_for_replicas,
    mark_revoked,
    open_session,
    remember_session,
)
from .successors import (  # noqa: F401
    _aadd,
    _add_successor_flow,
    _aread_from_primary,
    aadd_successor,
    add_successor,
    withdraw_successor,
)
from .throttle import (  # noqa: F401
    THROTTLE_SCRIPT,
    Throttled,
    ThrottleHit,
    _run_throttle_script,
    _scriptable,
    count_request,
)

__all__ = [
    "CACHE_ERRORS", "SET_MANY_WITHOUT_TIMEOUT", "THROTTLE_SCRIPT", "Offer", "RequestState",
    "ServiceUnavailable", "SessionState", "Successor", "ThrottleHit", "Throttled",
    "aadd_successor", "add_successor", "aread_request_state", "aread_request_state_offering",
    "async_cache", "available",
    "cache", "caches", "claim_last_used_write", "count_request", "mark_revoked", "mark_used",
    "marking_used", "open_session", "read_request_state", "read_request_state_offering",
    "remember_session", "session_key", "successor_key", "throttle_key", "used_key",
    "withdraw_successor",
]
