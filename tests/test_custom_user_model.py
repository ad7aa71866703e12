"""The app with a custom user model: email as USERNAME_FIELD, a UUID primary key, a
lockout-style authentication backend. AUTH_USER_MODEL cannot change within one run, so those
tests (tests/custom_user/checks_custom_user.py) run in a pytest process of their own."""

import os
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def test_the_custom_user_model_suite():
    env = {**os.environ, "TEST_REDIS_URL": settings.REDIS_URL, "PYTHONPATH": str(ROOT),
           "DJANGO_SETTINGS_MODULE": "tests.settings_custom_user"}
    env.pop("DOUBLETOKEN_TEST_DB_NAME", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--ds=tests.settings_custom_user", "tests/custom_user/checks_custom_user.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) >= 7 and " failed" not in output, output
