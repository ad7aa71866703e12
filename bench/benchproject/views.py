"""The tiny views under load."""

from django.http import HttpRequest, HttpResponse
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response


@api_view(["GET"])
def me(request: Request) -> Response:
    # Only the pk: a view that needs more of the user would load the row for ours too (one
    # SELECT, as simplejwt always does); the benchmark measures the authentication itself.
    return Response({"user": request.user.pk})


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")
