"""Views guarded by step-up requirements on every face (tests/test_stepup_guards.py,
tests/test_reauthenticate.py and the contract table's "guarded" face): max_age 300 s (or 3 s,
to see one expire), or acr "mfa"; and a project's own verifier view."""

from datetime import timedelta

from django.http import JsonResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django.views import View
from ninja import NinjaAPI
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

import django_doubletoken
from django_doubletoken.decorators import bearer_auth, step_up_required
from django_doubletoken.ninja import AsyncStepUpAuth, StepUpAuth, register_error_handlers
from django_doubletoken.permissions import RecentAuthentication, RequireACR


def _who(request):
    return {"pk": request.user.pk, "sid": request.auth.session_id}


@api_view(["GET", "POST"])
@permission_classes([RecentAuthentication(max_age=300)])
def drf_recent(request):
    return Response(_who(request))


@api_view(["GET", "POST"])
@permission_classes([IsAuthenticated])
def drf_unguarded(request):
    """drf_recent without its guard: the baseline of the hot-path comparisons."""
    return Response(_who(request))


@api_view(["GET"])
@permission_classes([IsAuthenticated & RecentAuthentication(max_age=timedelta(minutes=5))])
def drf_and(request):
    return Response(_who(request))


@api_view(["GET"])
@permission_classes([RecentAuthentication(max_age=300) & RequireACR("mfa", "hwk")])
def drf_both(request):
    return Response(_who(request))


@api_view(["GET"])
@permission_classes([RequireACR("mfa") | IsAdminUser])
def drf_acr_or_admin(request):
    return Response(_who(request))


@api_view(["GET"])
@permission_classes([RecentAuthentication(max_age=3)])
def drf_short(request):
    return Response(_who(request))


@api_view(["POST"])
def own_verifier(request):
    """A project's own proof (say, a WebAuthn assertion), ending as reauthenticate/ does."""
    if request.data.get("assertion") != "valid":
        return Response({"detail": "Bad assertion.", "code": "invalid_credentials"}, status=401)
    return django_doubletoken.reauthenticate_response(request, acr="mfa", amr=["hwk"])


class DrfRecentView(APIView):
    permission_classes = [IsAuthenticated, RecentAuthentication(max_age=300)]

    def get(self, request):
        return Response(_who(request))


ninja_api = NinjaAPI(urls_namespace="stepup-ninja", docs_url=None)
register_error_handlers(ninja_api)


@ninja_api.get("/recent", auth=StepUpAuth(max_age=300))
def ninja_recent(request):
    return _who(request)


@ninja_api.get("/recent-async", auth=AsyncStepUpAuth(max_age=300))
async def ninja_recent_async(request):
    return _who(request)


@ninja_api.get("/short", auth=StepUpAuth(max_age=3))
def ninja_short(request):
    return _who(request)


@ninja_api.get("/acr", auth=StepUpAuth(acr_values="mfa"))
def ninja_acr(request):
    return _who(request)


@step_up_required(max_age=300)
def plain_recent(request):
    return JsonResponse(_who(request))


@step_up_required(max_age=300)
async def plain_recent_async(request):
    return JsonResponse(_who(request))


@step_up_required(max_age=3)
def plain_short(request):
    return JsonResponse(_who(request))


@bearer_auth
@step_up_required(acr_values=["mfa"])
def plain_acr_under_bearer(request):
    return JsonResponse(_who(request))


@method_decorator(step_up_required(max_age=300), name="dispatch")
class PlainRecentClassView(View):
    def get(self, request):
        return JsonResponse(_who(request))


urlpatterns = [
    path("stepup/drf/", drf_recent),
    path("stepup/drf-unguarded/", drf_unguarded),
    path("stepup/drf-and/", drf_and),
    path("stepup/drf-both/", drf_both),
    path("stepup/drf-acr-or-admin/", drf_acr_or_admin),
    path("stepup/drf-class/", DrfRecentView.as_view()),
    path("stepup/drf-short/", drf_short),
    path("stepup/own-verifier/", own_verifier),
    path("stepup/plain-short/", plain_short),
    path("stepup/ninja/", ninja_api.urls),
    path("stepup/plain/", plain_recent),
    path("stepup/plain-async/", plain_recent_async),
    path("stepup/plain-acr/", plain_acr_under_bearer),
    path("stepup/plain-class/", PlainRecentClassView.as_view()),
]
