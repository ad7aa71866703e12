import csv
import re

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
        # Every field in double quotes (a quote inside doubled): a separator in a value
        # cannot start a cell of its own.
        writer = csv.writer(response, quoting=csv.QUOTE_ALL)
        writer.writerow(self.COLUMNS)
        sessions = DeviceSession.objects.active().filter(user_id=request.user.pk)
        for row in sessions.order_by("created_at").values_list(*self.COLUMNS):
            writer.writerow([spreadsheet_safe(value) for value in row])
        return response


# OWASP's CSV-injection rules: a spreadsheet runs a cell as a formula when it starts with one
# of these, possibly after leading whitespace; tab, CR and LF at the start also start one in
# some programs, and the NUL byte (OWASP ASVS 1.2.10). Spreadsheets that split on another
# separator than the file's (";" in many locales, tab, "|") would start a new cell there.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
SEPARATORS = re.compile(r"[,;\t|\r\n]")


def spreadsheet_safe(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula: user text that
    starts like a formula anywhere a spreadsheet could start a cell (the beginning, after
    whitespace, after any separator) gets a leading single quote. Other values (ids, dates,
    addresses) are not the user's text and pass unchanged."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_STARTS) or any(
            part.lstrip().startswith(FORMULA_STARTS[:4]) for part in SEPARATORS.split(value)):
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
