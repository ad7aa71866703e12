"""What every endpoint shares: the ``Endpoint`` class and the answer carrying a token pair.

``Endpoint`` takes its attributes per instance or per subclass and maps domain errors (refused
tokens, a store down) onto the error contract's refusals (``refusing``); ``pair_answer`` is the
answer of login, refresh and re-authentication: the pair's body, the next DPoP nonce, and with
cookie transport the refresh token in its cookie instead of the body.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.utils import timezone

from .. import cookies, dpop, services
from ..conf import doubletoken_settings
from ..errors import DoubleTokenError
from ..http import bearer_challenge
from ..services.common import database_available
from .answers import NO_STORE, Answer, Refusal


class Endpoint:
    # The WWW-Authenticate challenge of this endpoint's 401s (the face passes its realm's).
    challenge: str = bearer_challenge()
    # Login and refresh (RFC 9449 §8: a use_dpop_nonce there is a 400).
    token_endpoint = False

    def __init__(self, **attributes: Any) -> None:
        for name, value in attributes.items():
            if not hasattr(type(self), name):
                raise TypeError(f"{type(self).__name__} has no attribute {name!r}")
            setattr(self, name, value)

    @contextmanager
    def refusing(self) -> Iterator[None]:
        """Domain errors (refused tokens, a store down) as the error contract's refusals."""
        try:
            with database_available():
                yield
        except DoubleTokenError as error:
            raise Refusal.for_error(error, self.challenge,
                                    token_endpoint=self.token_endpoint) from error


def pair_answer(pair: services.TokenPair, body: dict[str, Any], *,
                      use_cookie: bool, refresh_path: str | None) -> Answer:
    """The pair's body; with cookie transport its refresh token goes in the cookie only."""
    answer = Answer(200, body, dict(NO_STORE))
    if doubletoken_settings.DPOP_NONCE and dpop.enabled():  # the next proof's (RFC 9449 §8)
        answer.headers[dpop.NONCE_HEADER] = dpop.current_nonce()
    if use_cookie:
        body.pop("refresh", None)
        max_age = int((pair.refresh_expires_at - timezone.now()).total_seconds())
        answer.finishers += [
            lambda response, request: cookies.set_refresh_cookie(
                response, pair.refresh, max_age, refresh_path),
            lambda response, request: cookies.ensure_csrf_cookie(request),
        ]
    return answer
