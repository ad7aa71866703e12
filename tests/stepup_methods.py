"""A project's re-authentication method, as REAUTHENTICATION_METHODS names it
(tests/test_reauthenticate.py): a one-time code, "123456" for everyone."""

from django.core.exceptions import ValidationError

CALLS = []


def verify_code(request, user, data):
    if not isinstance(data.get("code"), str):
        raise ValidationError({"code": ["Send the six digits."]}, code="required")
    CALLS.append((user.pk, data.get("code")))
    return data.get("code") == "123456"
