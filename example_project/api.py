import csv

from django.http import HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_doubletoken.decorators import sliding_exempt
from django_doubletoken.models import DeviceSession


class MeView(APIView):
    """The signed-in user. The only endpoint here that loads the user row."""

    def get(self, request: Request) -> Response:
        return Response({"id": request.user.pk, "username": request.user.get_username()})


@sliding_exempt
class ExportView(APIView):
    """The user's signed-in devices as a CSV download.

    A file is saved, not read by the client's fetch wrapper, so a token slid into its response
    would be lost: this view opts out of sliding (the next API call slides instead).
    """

    COLUMNS = ("id", "client", "device", "ip", "created_at", "last_used_at")

    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="devices.csv"'
        writer = csv.writer(response)
        writer.writerow(self.COLUMNS)
        sessions = DeviceSession.objects.active().filter(user_id=request.user.pk)
        for row in sessions.order_by("created_at").values_list(*self.COLUMNS):
            writer.writerow([_cell(value) for value in row])
        return response


def _cell(value: object) -> object:
    # Device labels are the user's own text: one starting like a formula would run as one
    # when the file is opened in a spreadsheet (CSV injection), so it is quoted as text.
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value
