"""The tiny views under load."""

from django.http import HttpRequest, HttpResponse
from rest_framework.decorators import api_view, authentication_classes
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication


@api_view(["GET"])
def me(request: Request) -> Response:
    # Only the pk: a view that needs more of the user would load the row for ours too (one
    # SELECT, as simplejwt always does); the benchmark measures the authentication itself.
    return Response({"user": request.user.pk})


@api_view(["GET"])
@authentication_classes([JWTStatelessUserAuthentication])
def stateless_me(request: Request) -> Response:
    # simplejwt's verify-only authentication: signature and expiry, no database, no cache.
    return Response({"user": request.user.pk})


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")
