"""An adrf async view authenticated by the stock (sync) DoubleTokenAuthentication, as
docs/how-to/deployment.md recommends for adrf (tests/test_adrf.py)."""

from adrf.views import APIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from django_doubletoken.authentication import DoubleTokenAuthentication


class AdrfMe(APIView):
    authentication_classes = [DoubleTokenAuthentication]
    permission_classes = [IsAuthenticated]

    async def get(self, request: Request) -> Response:
        return Response({"user": request.user.pk, "session": request.auth.session_id})
