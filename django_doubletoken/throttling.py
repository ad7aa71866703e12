"""The login throttle as a DRF throttle class, for a project's own views (sign-up, password
reset): ``throttle_classes = [LoginRateThrottle]``. It is ``endpoints.throttle.LoginThrottle``,
the one the app's login endpoint uses on every face, so the counts are shared with it.
"""

from __future__ import annotations

from rest_framework.throttling import BaseThrottle

from .api_errors import APIError
from .endpoints.throttle import LoginThrottle, remote_ident
from .errors import DoubleTokenError
from .http import bearer_challenge

__all__ = ["LoginRateThrottle", "remote_ident"]


class LoginRateThrottle(BaseThrottle):
    scope = LoginThrottle.scope

    def __init__(self) -> None:
        self._wait: float | None = None

    def get_ident(self, request) -> str:
        return remote_ident(request)

    def allow_request(self, request, view) -> bool:
        try:
            self._wait = LoginThrottle().wait(request)
        except DoubleTokenError as error:
            # Rendered as a 503 by DRF itself, so a project view using this throttle needs no
            # custom exception handler to avoid a 500 while the cache is down.
            raise APIError(error, bearer_challenge()) from None
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait
