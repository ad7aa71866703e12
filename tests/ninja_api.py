"""Ninja APIs that only the tests need: sync and async endpoints, and an API that did not
register the error handlers."""

from ninja import NinjaAPI

from django_doubletoken.ninja import (
    AsyncDoubleTokenAuth,
    DoubleTokenAuth,
    auth_router,
    register_error_handlers,
)

api = NinjaAPI(urls_namespace="ninja-tests", auth=DoubleTokenAuth(), docs_url=None)
register_error_handlers(api)
# The auth router with the async auth class (the example mounts the sync one).
api.add_router("/async-auth/", auth_router(auth=AsyncDoubleTokenAuth()))


def _whoami(request):
    """Touches only request.user.pk and request.auth: must not load the user row."""
    return {"pk": request.user.pk, "sid": request.auth.session_id,
            "grant": type(request.auth).__name__, "user": type(request.user).__name__}


@api.get("/sync")
def sync_whoami(request):
    return _whoami(request)


@api.get("/async", auth=AsyncDoubleTokenAuth())
async def async_whoami(request):
    return _whoami(request)


@api.get("/async-fails", auth=AsyncDoubleTokenAuth())
async def async_fails(request):
    """Authenticated, then answers an error: a response that carries no successor."""
    return api.create_response(request, {"detail": "conflict"}, status=409)


@api.get("/sync-auth-on-async-view", auth=DoubleTokenAuth())
async def sync_auth_async_view(request):
    return _whoami(request)


@api.get("/async-auth-on-sync-view", auth=AsyncDoubleTokenAuth())
def async_auth_sync_view(request):
    return _whoami(request)


bare_api = NinjaAPI(urls_namespace="ninja-bare", auth=DoubleTokenAuth(), docs_url=None)


@bare_api.get("/sync")
def bare_whoami(request):
    return _whoami(request)
