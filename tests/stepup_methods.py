"""A project's re-authentication method, as REAUTHENTICATION_METHODS names it
(tests/test_reauthenticate.py): a one-time code, "123456" for everyone."""

from django.core.exceptions import ValidationError

CALLS = []


def verify_code(request, user, data):
    if not isinstance(data.get("code"), str):
        raise ValidationError({"code": ["Send the six digits."]}, code="required")
    CALLS.append((user.pk, data.get("code")))
    return data.get("code") == "123456"


# A lockout app's backend, as django-axes works: first in AUTHENTICATION_BACKENDS, it stops
# authenticate() for a locked-out user (PermissionDenied), whose password is then never tried.
LOCKED_OUT = set()


class LockoutBackend:
    def authenticate(self, request, username=None, **credentials):
        from django.core.exceptions import PermissionDenied

        if username in LOCKED_OUT:
            raise PermissionDenied("locked out")
        return None

    def get_user(self, user_id):
        return None
