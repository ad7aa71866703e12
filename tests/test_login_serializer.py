"""The login serializer: authenticate() with the request, inactive users, and swapping it for
a project's own (LOGIN_SERIALIZER). The custom user model: tests/test_custom_user_model.py."""

import pytest
from django.contrib.auth.signals import user_login_failed
from django.core import signing
from django.core.validators import MaxLengthValidator
from rest_framework import serializers

from django_doubletoken.checks import check_settings
from django_doubletoken.errors import TokenError
from django_doubletoken.models import DeviceSession
from django_doubletoken.serializers import LoginSerializer

from .login_serializers import MAGIC_SALT

pytestmark = pytest.mark.django_db

LOGIN = "/api/auth/login/"


def test_failed_logins_reach_user_login_failed_with_the_request(api, user):
    failures = []

    def receiver(sender, credentials, request=None, **kwargs):
        failures.append((credentials["username"], request.META["REMOTE_ADDR"]))

    user_login_failed.connect(receiver)
    try:
        response = api.post(LOGIN, {"username": "alice", "password": "nope"}, format="json")
    finally:
        user_login_failed.disconnect(receiver)
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"
    assert failures == [("alice", "127.0.0.1")]


def test_inactive_users_get_no_session_whatever_the_backend(api, user, password, settings):
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.AllowAllUsersModelBackend"]
    user.is_active = False
    user.save()
    response = api.post(LOGIN, {"username": "alice", "password": password}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"
    assert not DeviceSession.objects.exists()


def test_a_subclass_of_the_login_serializer(api, user, password, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_SERIALIZER":
                            "tests.login_serializers.CaseInsensitiveLoginSerializer"}
    response = api.post(LOGIN, {"username": "ALICE", "password": password}, format="json")
    assert response.status_code == 200, response.content
    wrong = api.post(LOGIN, {"username": "ALICE", "password": "x"}, format="json")
    assert wrong.json()["code"] == "invalid_credentials"


def test_a_serializer_of_its_own(api, user, settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_SERIALIZER":
                            "tests.login_serializers.MagicLinkLoginSerializer"}
    code = signing.dumps(user.pk, salt=MAGIC_SALT)
    response = api.post(LOGIN, {"code": code}, format="json")
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    session = DeviceSession.objects.get(pk=response.json()["session_id"])
    assert (session.user_id, session.device, session.client) == (user.pk, "magic link", "mobile")
    bad = api.post(LOGIN, {"code": code + "x"}, format="json")
    assert bad.status_code == 400 and "code" in bad.json()
    # The published schema follows the setting.
    schema = api.get("/api/schema/?format=json").json()
    body = schema["paths"][LOGIN]["post"]["requestBody"]["content"]["application/json"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["properties"]) == {"code"}


@pytest.mark.parametrize("path", ["tests.nowhere.Serializer", "tests.login_serializers.MAGIC_SALT",
                                  42])
def test_a_bad_login_serializer_setting_is_reported(settings, path):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_SERIALIZER": path}
    errors = [e for e in check_settings() if e.id == "django_doubletoken.E022"]
    assert len(errors) == 1 and "LOGIN_SERIALIZER" in errors[0].msg and errors[0].hint


class _WithNestedFields(LoginSerializer):
    scopes = serializers.ListField(child=serializers.CharField(max_length=20), required=False)


def test_each_serializer_has_fields_of_its_own():
    # The fields are built once per class (DRF would deep-copy them for every serializer):
    # what one serializer changes in its fields, no other serializer sees.
    first, second = LoginSerializer(), LoginSerializer()
    for name in ("username", "password", "device", "client"):
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
    first.fields["password"].validators.append(MaxLengthValidator(3))
    first.fields["password"].error_messages["blank"] = "changed"
    first.fields["device"].required = True
    first.fields["username"].style["input_type"] = "changed"
    fresh = LoginSerializer(data={"username": "alice", "password": "", "device": ""})
    assert not fresh.is_valid()
    assert [str(e) for e in fresh.errors["password"]] == ["This field may not be blank."]
    assert len(fresh.fields["password"].validators) == len(second.fields["password"].validators)
    assert fresh.fields["device"].required is False
    assert "input_type" not in fresh.fields["username"].style
    # Past the fields (no max_length of 3), to the credentials, which are wrong.
    with pytest.raises(TokenError) as refused:
        LoginSerializer(data={"username": "alice", "password": "abcd"}).is_valid()
    assert refused.value.code == "invalid_credentials"


def test_fields_holding_fields_are_copied_whole():
    first, second = _WithNestedFields(), _WithNestedFields()
    assert first.fields["scopes"].child is not second.fields["scopes"].child
    assert first.fields["scopes"].child.parent is first.fields["scopes"]
    serializer = _WithNestedFields(data={"username": "x", "password": "y", "scopes": ["a" * 21]})
    assert not serializer.is_valid()
    assert serializer.errors["scopes"][0][0].code == "max_length"

