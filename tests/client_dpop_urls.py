"""tests.urls plus stand-ins for a server that wants DPoP nonces (RFC 9449 §8-9), for the Python
client's nonce tests (tests/test_client_dpop.py): each view asks for the nonce it names and
otherwise refuses with ``use_dpop_nonce`` and that nonce in ``DPoP-Nonce``, as a token endpoint
(400) or a resource (401)."""

from __future__ import annotations

import jwt
from django.http import JsonResponse
from django.urls import path, resolve
from django.views.decorators.csrf import csrf_exempt

from django_doubletoken.views import LoginView, RefreshView

from .urls import urlpatterns as test_urlpatterns


def _nonce_of(request) -> str | None:
    try:
        return jwt.decode(request.headers.get("DPoP", ""),
                          options={"verify_signature": False}).get("nonce")
    except jwt.InvalidTokenError:
        return None


def _wants_nonce(nonce: str, status: int) -> JsonResponse:
    headers = {"DPoP-Nonce": nonce, "Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'DPoP error="use_dpop_nonce"'
    return JsonResponse({"detail": "Use the nonce.", "code": "use_dpop_nonce"}, status=status,
                        headers=headers)


def resource(request, nonce):
    """A resource that wants ``nonce`` in the proof; ``rotating`` wants a new one each time."""
    if nonce == "rotating":
        resource.calls = getattr(resource, "calls", 0) + 1
        return _wants_nonce(f"rotating-{resource.calls}", 401)
    if _nonce_of(request) != nonce:
        return _wants_nonce(nonce, 401)
    return resolve("/api/me/").func(request)


def token_endpoint(view, nonce):
    """The app's login or refresh, behind a demand for ``nonce`` (a 400, as at a token
    endpoint)."""

    @csrf_exempt
    def endpoint(request):
        if _nonce_of(request) != nonce:
            return _wants_nonce(nonce, 400)
        return view(request)

    return endpoint


urlpatterns = [
    path("__dpop__/nonce/<str:nonce>/", resource),
    path("__dpop__/auth/login/", token_endpoint(LoginView.as_view(), "login-nonce")),
    path("__dpop__/auth/refresh/", token_endpoint(RefreshView.as_view(), "refresh-nonce")),
    *test_urlpatterns,
]
