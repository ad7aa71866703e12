"""Signing in with the e-mail address (docs/how-to/email-login.md): the backend the page
includes, through login/ and the Python client's username field."""

import pytest
from django.contrib.auth import get_user_model

from django_doubletoken.models import DeviceSession

pytestmark = pytest.mark.django_db

LOGIN = "/api/auth/login/"
BACKENDS = ["tests.email_backend.EmailBackend", "django.contrib.auth.backends.ModelBackend"]


@pytest.fixture
def email_login(settings, user):
    settings.AUTHENTICATION_BACKENDS = BACKENDS
    user.email = "alice@example.com"
    user.save()
    return user


def test_the_address_in_any_case_signs_in(api, email_login, password):
    response = api.post(LOGIN, {"username": "Alice@Example.com", "password": password},
                        format="json")
    assert response.status_code == 200, response.content
    session = DeviceSession.objects.get(pk=response.json()["session_id"])
    assert session.user_id == email_login.pk


def test_the_username_still_works_through_the_next_backend(api, email_login, password):
    response = api.post(LOGIN, {"username": "alice", "password": password}, format="json")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("address, given", [
    ("alice@example.com", "wrong password"),
    ("nobody@example.com", None),
])
def test_a_wrong_password_or_unknown_address_is_invalid_credentials(api, email_login, password,
                                                                    address, given):
    response = api.post(LOGIN, {"username": address, "password": given or password},
                        format="json")
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"
    assert not DeviceSession.objects.exists()


def test_an_address_two_accounts_share_signs_neither_in(api, email_login, password):
    get_user_model().objects.create_user("alice2", "ALICE@example.com", password)
    response = api.post(LOGIN, {"username": "alice@example.com", "password": password},
                        format="json")
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"


def test_an_inactive_user_is_refused(api, email_login, password):
    email_login.is_active = False
    email_login.save()
    response = api.post(LOGIN, {"username": "alice@example.com", "password": password},
                        format="json")
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"
