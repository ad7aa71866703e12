"""The test settings with a custom user model (email as USERNAME_FIELD, UUID pk) and a
lockout-style authentication backend. AUTH_USER_MODEL cannot change within a run, so
tests/test_custom_user_model.py runs tests/custom_user/checks_custom_user.py in a pytest
process of its own with these settings."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.custom_user"]
AUTH_USER_MODEL = "custom_user.User"
AUTHENTICATION_BACKENDS = ["tests.custom_user.backends.LockoutBackend"]
