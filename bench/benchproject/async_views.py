"""The same tiny view, async: an adrf view (DRF's request handling, authentication in adrf's
one thread hop) and a django-ninja operation (on the event loop throughout). Served under
uvicorn by bench/asgi_path.py; only the "ours" stacks load these URLs."""

from adrf.views import APIView
from django.http import HttpRequest
from ninja import NinjaAPI
from rest_framework.request import Request
from rest_framework.response import Response

from django_doubletoken.ninja import AsyncDoubleTokenAuth, register_error_handlers


class AdrfMe(APIView):
    # adrf runs authentication, permissions and throttles (``initial``) in one thread hop, so
    # the sync DoubleTokenAuthentication of DEFAULT_AUTHENTICATION_CLASSES is the cheap one:
    # an async authenticate() would be driven by async_to_sync from inside that thread.
    async def get(self, request: Request) -> Response:
        return Response({"user": request.user.pk})


ninja_api = register_error_handlers(NinjaAPI(auth=AsyncDoubleTokenAuth(), urls_namespace="bench"))


@ninja_api.get("/me/")
async def ninja_me(request: HttpRequest) -> dict:
    return {"user": request.user.pk}
