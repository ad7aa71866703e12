"""The same demo API written with django-ninja, mounted at /api/ninja/.

``GET /api/ninja/me`` answers like ``GET /api/me/``; the auth endpoints are at
``/api/ninja/auth/`` and the OpenAPI page at ``/api/ninja/docs``.
"""

# docs/how-to/ninja.md shows this file from here on (tests/test_ninja.py runs it).
# --8<-- [start:api]
from django.conf import settings
from django.http import HttpRequest
from ninja import NinjaAPI, Schema

from django_doubletoken.ninja import (
    DoubleTokenAuth,
    StepUpAuth,
    auth_router,
    register_error_handlers,
)

api = NinjaAPI(title="django-doubletoken demo (Ninja)", urls_namespace="ninja",
               auth=DoubleTokenAuth())
register_error_handlers(api)
# Signing the other devices out asks for a recent sign-in, as on the DRF side (account.py).
api.add_router("/auth/", auth_router(
    auth_for={"logout-others": StepUpAuth(max_age=settings.STEP_UP_MAX_AGE)}))


class MeOut(Schema):
    id: int
    username: str


@api.get("/me", response=MeOut)
def me(request: HttpRequest):
    """The signed-in user. The only endpoint here that loads the user row."""
    return {"id": request.user.pk, "username": request.user.get_username()}
# --8<-- [end:api]
