"""Step-up guards for Ninja operations: auth classes that authenticate the access token as
``DoubleTokenAuth`` does, then apply a ``stepup.Requirement`` to its claims::

    @api.post("/email", auth=StepUpAuth(max_age=300))
    def change_email(request, payload: EmailIn): ...

A token that does not meet it gets RFC 9470's 401 (rendered by ``register_error_handlers``,
with the ``max_age`` / ``acr_values`` of the challenge and body); the check reads the claims
only, so a guarded operation costs what any authenticated one does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest

from ..services import AccessGrant
from ..stepup import InsufficientAuthentication, requirement
from .auth import AsyncDoubleTokenAuth, DoubleTokenAuth, NinjaTokenError


class _Guard:
    def __init__(self, max_age: Any = None, acr_values: Iterable[str] | str = ()) -> None:
        super().__init__()
        self.requirement = requirement(max_age, acr_values)

    def checked(self, grant: AccessGrant) -> AccessGrant:
        try:
            self.requirement.check(grant.claims)
        except InsufficientAuthentication as refusal:
            # Not ``rejected``: the token itself is good, only not for this operation.
            raise NinjaTokenError(refusal) from None
        return grant


class StepUpAuth(_Guard, DoubleTokenAuth):
    """``DoubleTokenAuth`` plus a step-up requirement: ``max_age`` (seconds or a
    ``timedelta`` since the user last proved who they are) and/or ``acr_values``."""

    openapi_description = (
        "An access token whose authentication is recent (or strong) enough: otherwise a 401 "
        "insufficient_user_authentication (RFC 9470) naming max_age / acr_values; "
        "re-authenticate the session (reauthenticate/) and send the request again."
    )

    def authenticate(self, request: HttpRequest, token: str) -> AccessGrant:
        return self.checked(super().authenticate(request, token))


class AsyncStepUpAuth(_Guard, AsyncDoubleTokenAuth):
    """``StepUpAuth`` for async operations (the cache read with its async API)."""

    async def authenticate(self, request: HttpRequest, token: str) -> AccessGrant:
        return self.checked(await super().authenticate(request, token))
