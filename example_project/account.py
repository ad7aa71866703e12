"""The account's sensitive endpoints, each behind a recent authentication (RFC 9470 step-up):
the user proved who they are at most ``STEP_UP_MAX_AGE`` ago (5 minutes), at login or through
``/api/auth/reauthenticate/``; otherwise the answer is the 401
``insufficient_user_authentication`` challenge, which the JS client answers by asking for the
password and replaying the request.

``POST /api/password/``        ``{"old_password", "new_password"}`` → 200 ``{"changed": true}``;
                               every other device is signed out, this one stays signed in.
``DELETE /api/account/``       → 204; every session ends with the account.
``POST /api/auth/logout-others/`` the app's endpoint, guarded here too → 200 ``{"revoked": n}``.
"""

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_doubletoken import services
from django_doubletoken.permissions import RecentAuthentication
from django_doubletoken.throttling import LoginRateThrottle
from django_doubletoken.views import LogoutOthersView

# docs/how-to/step-up.md shows this line (tests/test_example_account.py runs it).
# --8<-- [start:guard]
RECENTLY_SIGNED_IN = IsAuthenticated & RecentAuthentication(max_age=settings.STEP_UP_MAX_AGE)
# --8<-- [end:guard]


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=4096, trim_whitespace=False)
    new_password = serializers.CharField(max_length=4096, trim_whitespace=False)

    def validate_old_password(self, value: str) -> str:
        if not self.context["user"].check_password(value):
            raise serializers.ValidationError(
                "Your old password was entered incorrectly.", code="password_incorrect")
        return value

    def validate(self, attrs):
        try:
            password_validation.validate_password(attrs["new_password"], self.context["user"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"new_password": list(exc.messages)}) from None
        return attrs


class PasswordView(APIView):
    """Change the password; the other devices are signed out, this one is not."""

    permission_classes = [RECENTLY_SIGNED_IN]
    # The old password is a guess to check: as many tries as logins get.
    throttle_classes = [LoginRateThrottle]

    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data, context={"user": request.user})
        serializer.is_valid(raise_exception=True)
        services.change_password(request.user, serializer.validated_data["new_password"],
                                 keep_session=request.auth.session_id)
        return Response({"changed": True})


class AccountView(APIView):
    """Delete the account: its sessions are revoked with it (their tokens refused at once)."""

    permission_classes = [RECENTLY_SIGNED_IN]

    def delete(self, request: Request) -> Response:
        request.user.delete()
        return Response(status=204)


class GuardedLogoutOthersView(LogoutOthersView):
    """The app's logout-others/, asking for a recent authentication in this project."""

    permission_classes = [RECENTLY_SIGNED_IN]
