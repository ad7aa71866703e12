"""``BearerAuthMixin``: ``bearer_auth`` for Django's class-based views."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from .decorators import aauthenticate_view_request, authenticate_view_request
from .http import DEFAULT_REALM


class BearerAuthMixin:
    """Authenticate the access token (Bearer, or DPoP with its proof) before ``dispatch``, as
    ``bearer_auth`` does for view functions: ``request.user`` and ``request.auth`` from the
    token, the error contract's 401 when it is refused or (with ``bearer_required``, the
    default) missing.

    Put it first among the bases, before ``View`` or any mixin that reads ``request.user``.
    Works for async views (all handlers ``async def``) too.
    """

    bearer_required = True
    # The realm of the 401s' WWW-Authenticate challenge.
    www_authenticate_realm = DEFAULT_REALM

    @classmethod
    def as_view(cls, **initkwargs: Any):
        view = super().as_view(**initkwargs)
        # As for DRF's views: a request reaching the view carries a Bearer token, which a
        # browser never adds by itself, so there is no cross-site request to forge.
        return csrf_exempt(view) if cls.bearer_required else view

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any):
        if getattr(self, "view_is_async", False):
            return self._adispatch(request, *args, **kwargs)
        refusal = authenticate_view_request(request, required=self.bearer_required,
                                            realm=self.www_authenticate_realm)
        return refusal if refusal is not None else super().dispatch(request, *args, **kwargs)

    async def _adispatch(self, request: HttpRequest, *args: Any, **kwargs: Any
                         ) -> HttpResponseBase:
        refusal = await aauthenticate_view_request(request, required=self.bearer_required,
                                                   realm=self.www_authenticate_realm)
        if refusal is not None:
            return refusal
        return await super().dispatch(request, *args, **kwargs)
