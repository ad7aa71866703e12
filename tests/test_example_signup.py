"""The example's sign-up runs Django's AUTH_PASSWORD_VALIDATORS, as a project copied from it
would: a weak password is a 400 with the validators' messages and creates nothing."""

import pytest
from django.contrib.auth import get_user_model

from django_doubletoken.models import DeviceSession

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("password, message", [
    ("1", "too short"),
    ("12345678901", "entirely numeric"),
    ("password123", "too common"),
    ("carol-the-cat", "too similar to the username"),
])
def test_weak_passwords_are_refused(api, password, message):
    response = api.post("/api/signup/", {"username": "carol-the-cat", "password": password},
                        format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_input"
    assert any(message in text for text in response.json()["errors"]["password"]), response.json()
    assert not get_user_model().objects.filter(username="carol-the-cat").exists()
    assert not DeviceSession.objects.exists()


def test_a_strong_password_signs_up(api):
    response = api.post("/api/signup/", {"username": "carol", "password": "plum orbit kettle"},
                        format="json")
    assert response.status_code == 200, response.content
