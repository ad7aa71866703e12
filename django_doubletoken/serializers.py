"""Request and response shapes of the endpoints."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from .conf import doubletoken_settings
from .endpoints.answers import token_pair_body
from .endpoints.fields import InvalidInput, token_field
from .errors import INVALID_CREDENTIALS, TokenError
from .models import DeviceSession

__all__ = ["token_pair_body"]  # at home in endpoints; kept importable from here


class AsciiFirstSurrogateValidator(ProhibitSurrogateCharactersValidator):
    """DRF's check, which walks the string character by character in Python (its cost per
    refresh: docs/performance.md). An ASCII string, which every genuine token is, holds no
    surrogate: only other strings get the full walk and its error."""

    def __call__(self, value: Any) -> None:
        if not str(value).isascii():
            super().__call__(value)


class TokenField(serializers.CharField):
    def __init__(self, **kwargs) -> None:
        super().__init__(trim_whitespace=True, **kwargs)
        self.validators = [
            AsciiFirstSurrogateValidator() if type(v) is ProhibitSurrogateCharactersValidator
            else v for v in self.validators
        ]

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(value) > doubletoken_settings.MAX_TOKEN_LENGTH:
            raise serializers.ValidationError(_("The token is too long."), code="max_length")
        return value


class LoginSerializer(serializers.Serializer):
    """The body of ``login/``: the user model's ``USERNAME_FIELD`` (``username``, ``email``,
    ...; ``username`` is accepted for it too) and ``password``, checked by
    ``django.contrib.auth.authenticate(request, username=..., password=...)`` as Django's own
    login form does, so every ``AUTHENTICATION_BACKENDS`` entry, lockout apps and
    ``user_login_failed`` receivers take part. Optional ``device`` (the label in the device
    list) and ``client`` (profile).

    ``validated_data["user"]`` is the authenticated user. Wrong credentials, and a user
    refused by ``confirm_login_allowed`` (inactive), are a 401 ``invalid_credentials``. A
    project's own serializer (``DOUBLETOKEN["LOGIN_SERIALIZER"]``, or ``LoginView.
    serializer_class``) may subclass this one or start afresh; it gets ``request`` in its
    context and must put ``user`` into ``validated_data``, and may put ``acr`` and ``amr``
    there when its users prove who they are by something else than a password (the session
    records them; by default ``PASSWORD_ACR`` and ``["pwd"]``).
    """

    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    device = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    client = serializers.CharField(max_length=32, required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        # DRF deep-copies the declared fields for every serializer, which runs each field's
        # __init__ again (its validators, its messages): 56 µs of every login, measured. They
        # are built once per class and user model instead, and each serializer gets copies as
        # much its own as DRF's (lists and dicts copied, validators shared as DRF shares them).
        return {name: _own_copy(field)
                for name, field in _login_fields(type(self), get_user_model()).items()}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        return super().to_internal_value(with_username_alias(data))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        request = self.context.get("request")
        user = authenticate(
            getattr(request, "_request", request),
            username=attrs[get_user_model().USERNAME_FIELD],
            password=attrs["password"],
        )
        if user is None or not self.confirm_login_allowed(user):
            raise TokenError(INVALID_CREDENTIALS)
        attrs["user"] = user
        return attrs

    def confirm_login_allowed(self, user: Any) -> bool:
        """Whether ``user``, whom the backends accepted, may open a session. Backends like
        ``AllowAllUsersModelBackend`` let inactive users through; sessions never are."""
        return user.is_active

    def validate_client(self, value: str) -> str:
        if value not in doubletoken_settings.CLIENT_PROFILES:
            names = ", ".join(sorted(doubletoken_settings.CLIENT_PROFILES))
            raise serializers.ValidationError(
                _("Unknown client profile; expected one of: %(names)s.") % {"names": names},
                code="invalid_choice",
            )
        return value


@functools.lru_cache(maxsize=128)  # bounded: a project could make serializer classes on the fly
def _login_fields(serializer: type[LoginSerializer], user_model: type) -> dict[str, Any]:
    """The fields of ``serializer`` for ``user_model``, unbound: the login field is the user
    model's ``USERNAME_FIELD``, known only once the project is loaded."""
    field = user_model._meta.get_field(user_model.USERNAME_FIELD)
    login_field = serializers.CharField(max_length=getattr(field, "max_length", None) or 254,
                                        label=field.verbose_name)
    return {user_model.USERNAME_FIELD: login_field,
            **copy.deepcopy(serializer._declared_fields)}


def _own_copy(field: serializers.Field) -> serializers.Field:
    """A copy of an unbound ``field`` that a serializer may bind and change without touching
    the original; fields holding other fields (nested serializers, ``ListField``, related
    fields' ``child_relation``) are deep-copied as DRF does."""
    if (isinstance(field, serializers.BaseSerializer) or hasattr(field, "child")
            or hasattr(field, "child_relation")):
        return copy.deepcopy(field)
    own = object.__new__(type(field))
    own.__dict__.update({name: copy.copy(value) if isinstance(value, (list, dict)) else value
                         for name, value in vars(field).items()})
    return own


def with_username_alias(data: Any) -> Any:
    """``data`` with ``username`` read as the user model's ``USERNAME_FIELD`` when that field
    is absent (``{"username": ...}`` logs in with an e-mail ``USERNAME_FIELD`` too)."""
    field = get_user_model().USERNAME_FIELD
    if field == "username" or not isinstance(data, Mapping) or field in data:
        return data
    if "username" not in data:
        return data
    aliased = data.copy() if hasattr(data, "getlist") else dict(data)
    if hasattr(aliased, "setlist"):
        aliased.setlist(field, data.getlist("username"))
    else:
        aliased[field] = data["username"]
    return aliased


class ExactDateTimeField(serializers.DateTimeField):
    """ISO 8601 exactly as ``datetime.isoformat()`` writes it (``+00:00``, not DRF's ``Z``)."""

    def to_representation(self, value):
        return value.isoformat()


class UnixDateTimeField(ExactDateTimeField):
    """A Unix time (a JWT's ``exp``) shown in ISO 8601 like every other time in the API."""

    def to_representation(self, value):
        return super().to_representation(datetime.fromtimestamp(value, tz=dt_timezone.utc))


class TokenTypeField(serializers.ChoiceField):
    """The OAuth ``token_type``: ``Bearer`` (RFC 6750), or ``DPoP`` (RFC 9449 §5) when the
    session is bound to the client's key."""

    def __init__(self) -> None:
        super().__init__(choices=["Bearer", "DPoP"], source="*")

    def to_representation(self, value) -> str:
        return getattr(value, "token_type", "Bearer")


# The body of login/ and refresh/, from a ``services.TokenPair``. (A comment, not a docstring:
# drf-spectacular would publish that as the schema's description.)
class TokenPairResponseSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField(
        required=False, help_text="Absent with cookie transport: it is in an HttpOnly cookie."
    )
    token_type = TokenTypeField()
    access_expires_at = ExactDateTimeField()
    refresh_expires_at = ExactDateTimeField()
    session_id = serializers.UUIDField()


def login_serializer_class() -> type[serializers.Serializer]:
    """The serializer named by ``DOUBLETOKEN["LOGIN_SERIALIZER"]``."""
    return doubletoken_settings.LOGIN_SERIALIZER


class RefreshSerializer(serializers.Serializer):
    refresh = TokenField()


def validated_refresh_token(data: Any) -> str:
    """The ``refresh`` of a refresh/ body by the endpoints' rule (``endpoints.fields``), which
    a test holds to ``RefreshSerializer(data=data)``'s: the same token or the same errors."""
    try:
        return token_field(data, "refresh")
    except InvalidInput as invalid:
        raise serializers.ValidationError({
            name: [ErrorDetail(message, message.code) for message in messages]
            for name, messages in invalid.errors.items()
        }) from None


class VerifySerializer(serializers.Serializer):
    token = TokenField()


class VerifyResponseSerializer(serializers.Serializer):
    """The answer of verify/, from the ``AccessGrant`` of the token checked."""

    valid = serializers.SerializerMethodField()
    session_id = serializers.UUIDField()
    expires_at = UnixDateTimeField(source="claims.exp", help_text="When the access token expires.")

    def get_valid(self, grant) -> bool:
        return True  # an invalid token never gets this far: it is a 401


class DeviceSessionSerializer(serializers.ModelSerializer):
    amr = serializers.SerializerMethodField()
    current = serializers.SerializerMethodField()

    class Meta:
        model = DeviceSession
        fields = ["id", "client", "device", "ip", "user_agent", "created_at", "last_used_at",
                  "auth_time", "acr", "amr", "current"]
        read_only_fields = fields

    def get_amr(self, session: DeviceSession) -> list[str]:
        return session.amr.split()

    def get_current(self, session: DeviceSession) -> bool:
        return str(session.pk) == self.context.get("current_session_id")
