"""Login throttling on top of DRF's, with its rate from DOUBLETOKEN and its counts in our cache.

The throttle counts per remote address as ``http.remote_ip`` finds it, the address the device
list records: the connection's peer, or the last entry of ``CLIENT_IP_HEADER`` when the project
says a proxy sets that header. DRF's own ``get_ident`` would believe any ``X-Forwarded-For``
a caller sends (unless ``NUM_PROXIES`` is set), so a new value per request escaped the limit
and someone else's address locked them out of login.
"""

from __future__ import annotations

import ipaddress

from rest_framework.throttling import SimpleRateThrottle

from . import store
from .api_errors import APIError
from .authentication import DoubleTokenAuthentication
from .conf import doubletoken_settings
from .errors import DoubleTokenError
from .http import remote_ip

# An IPv6 client is usually handed a whole /64: counting single addresses would give it
# 2**64 fresh identities.
IPV6_PREFIX = 64


def remote_ident(request) -> str:
    """The throttle's key for the request's remote address: the IPv4 address or the IPv6 /64."""
    ip = remote_ip(request)
    if ip is None:
        return "unknown"
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return ip


class LoginRateThrottle(SimpleRateThrottle):
    scope = "doubletoken_login"

    def get_rate(self) -> str | None:
        return doubletoken_settings.LOGIN_THROTTLE_RATE

    def get_ident(self, request) -> str:
        return remote_ident(request)

    def get_cache_key(self, request, view) -> str:
        return store.throttle_key(self.scope, self.get_ident(request))

    def allow_request(self, request, view) -> bool:
        self.cache = store.cache()
        try:
            with store.available():
                return super().allow_request(request, view)
        except DoubleTokenError as error:
            # Rendered as a 503 by DRF itself, so a project view using this throttle needs no
            # custom exception handler to avoid a 500 while the cache is down.
            challenge = DoubleTokenAuthentication().authenticate_header(request)
            raise APIError(error, challenge) from None
