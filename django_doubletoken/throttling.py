"""Login throttling on top of DRF's, with its rate from DOUBLETOKEN and its counts in our cache."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from . import store
from .conf import api_settings


class LoginRateThrottle(SimpleRateThrottle):
    scope = "doubletoken_login"

    def get_rate(self) -> str | None:
        return api_settings.LOGIN_THROTTLE_RATE

    def get_cache_key(self, request, view) -> str:
        return store.throttle_key(self.scope, self.get_ident(request))

    def allow_request(self, request, view) -> bool:
        self.cache = store.cache()
        with store.available():
            return super().allow_request(request, view)
