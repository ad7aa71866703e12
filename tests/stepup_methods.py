"""A project's re-authentication method, as REAUTHENTICATION_METHODS names it
(tests/test_reauthenticate.py): a one-time code, "123456" for everyone."""

CALLS = []


def verify_code(request, user, data):
    CALLS.append((user.pk, data.get("code")))
    return data.get("code") == "123456"
