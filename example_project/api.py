import csv

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import django_doubletoken
from django_doubletoken.decorators import sliding_exempt
from django_doubletoken.models import DeviceSession
from django_doubletoken.throttling import LoginRateThrottle


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


class SignupSerializer(serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, max_length=4096, trim_whitespace=False,
                                     style={"input_type": "password"})
    device = serializers.CharField(write_only=True, max_length=200, required=False,
                                   allow_blank=True, default="")

    class Meta:
        model = get_user_model()
        fields = ["username", "password", "device"]

    def validate(self, attrs):
        candidate = self.Meta.model(username=attrs["username"])
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs

    def create(self, validated_data):
        try:
            with transaction.atomic():
                return self.Meta.model._default_manager.create_user(
                    username=validated_data["username"], password=validated_data["password"])
        except IntegrityError:  # the same name, signed up a moment ago
            raise serializers.ValidationError(
                {"username": ["A user with that username already exists."]}) from None


class SignupView(APIView):
    """Create an account and sign it in: answers exactly as ``/api/auth/login/`` does."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (LoginRateThrottle,)

    def post(self, request: Request) -> Response:
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # One transaction: if the sign-in fails (the cache is down: 503), no account is left
        # behind that the client does not know about.
        with transaction.atomic():
            user = serializer.save()
            return django_doubletoken.login_response(
                request, user, device=serializer.validated_data["device"])
