"""Changing the account's e-mail address: the step-up how-to (docs/how-to/step-up.md) shows
this file; tests/test_example_account.py runs it."""

# --8<-- [start:view]
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from django_doubletoken.permissions import RecentAuthentication


class EmailView(APIView):
    """``POST /api/email/`` ``{"email"}``: only within 5 minutes of the last password entry."""

    permission_classes = [IsAuthenticated & RecentAuthentication(max_age=300)]

    def post(self, request):
        email = serializers.EmailField().run_validation(request.data.get("email"))  # or 400
        request.user.email = email
        request.user.save(update_fields=["email"])
        return Response({"email": email})
# --8<-- [end:view]
