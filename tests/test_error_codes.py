"""The one error table (``errors.ERROR_CODES``) and every copy or use of it agree.

A code added in one place only fails here: in the table but not in the JS client (or the other
way round), in the clients' rule file but not in the table, or raised by the package without
a table entry.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from rest_framework import exceptions as drf_exceptions

import django_doubletoken
from django_doubletoken import dpop, errors
from django_doubletoken.api_errors import challenge, error_body, error_response, error_status
from django_doubletoken.channels import CLOSE_CODES
from django_doubletoken.client import LOGOUT_CODES, RENEW_CODES, STEP_UP_CODES
from django_doubletoken.errors import ERROR_CODES

PACKAGE = Path(django_doubletoken.__file__).parent
JS_CLIENT = PACKAGE / "static" / "django_doubletoken" / "doubletoken.js"
RULE_FILE = Path(__file__).parent / "error_codes.json"


def _source() -> str:
    return "\n".join(path.read_text() for path in sorted(PACKAGE.rglob("*.py")))


def test_every_entry_is_well_formed():
    for code, entry in ERROR_CODES.items():
        assert entry.code == code and re.fullmatch(r"[a-z_]+", code)
        assert entry.action in errors.ACTIONS, code
        assert 400 <= entry.status < 600 and str(entry.message)
        assert entry.challenge in (None, errors.INVALID_TOKEN_CHALLENGE,
                                   *errors.DPOP_CHALLENGES, errors.STEP_UP_CHALLENGE), code
        assert entry.challenge is None or entry.status == 401, code
        assert entry.close_code is None or entry.close_code == errors.TRY_AGAIN_LATER \
            or 4000 <= entry.close_code <= 4999
    # No two codes close a socket with the same application close code.
    app_codes = [e.close_code for e in ERROR_CODES.values() if (e.close_code or 0) >= 4000]
    assert len(app_codes) == len(set(app_codes))


def test_the_js_client_carries_the_same_table():
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for the JS client's table")
    script = (f"import {{ ERROR_CODES }} from {json.dumps(str(JS_CLIENT))};"
              "console.log(JSON.stringify(ERROR_CODES));")
    done = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    expected = {code: {"action": e.action, "closeCode": e.close_code}
                for code, e in ERROR_CODES.items()}
    assert json.loads(done.stdout) == expected


def test_the_clients_rule_file_is_the_tables_401_codes():
    """tests/error_codes.json drives both clients' behaviour tests (test_client.py and
    js/codes.test.mjs): it must say for each 401 code what the table's action makes a
    client do."""
    rule = {code: action for code, action in json.loads(RULE_FILE.read_text()).items()
            if not code.startswith("_")}
    expected = {
        code: ("refresh" if e.action in errors.RENEW_ACTIONS
               else "logout" if e.action == errors.LOGIN else "return")
        for code, e in ERROR_CODES.items() if e.status == 401
    }
    assert rule == expected


def test_the_python_client_decides_from_the_table():
    renew, logout, step_up = RENEW_CODES, LOGOUT_CODES, STEP_UP_CODES
    assert renew == {"token_expired", "token_revoked"}
    assert logout == {"token_invalid", "session_revoked", "session_expired", "refresh_reused",
                      "simplejwt_migration_ended"}
    # Raised as StepUpRequired: the user re-authenticates, the tokens are not the problem.
    assert step_up == {"insufficient_user_authentication"}


def test_channels_close_with_the_tables_codes():
    expected = {code: e.close_code for code, e in ERROR_CODES.items()
                if e.close_code is not None}
    assert expected == CLOSE_CODES


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_every_answer_is_rendered_from_the_table(code):
    entry = ERROR_CODES[code]
    scheme = 'Bearer realm="api"'
    assert error_status(code) == entry.status
    assert error_body(code) == {"detail": str(entry.message), "code": code}
    header = challenge(code, scheme)
    if entry.status != 401:
        assert header is None
    elif entry.challenge is None:
        assert header == scheme
    else:
        # A refused DPoP proof is told in the DPoP challenge (RFC 9449 §7.1), whatever the
        # face's own scheme.
        shown = dpop.challenge_scheme() if code in errors.DPOP_CHALLENGES else scheme
        assert header == f'{shown}, error="{entry.challenge}", error_description="{code}"'
    response = error_response(code, scheme)
    assert response.status_code == entry.status
    assert json.loads(response.content) == error_body(code)
    assert response.get("WWW-Authenticate") == header


def _constant(name: str) -> str:
    value = getattr(errors, name, None)
    assert isinstance(value, str), f"{name} is not a code constant of django_doubletoken.errors"
    return value


def test_every_code_the_package_raises_is_in_the_table():
    source = _source()
    raised = set()
    # Domain errors, close reasons, DRF exceptions built with an explicit code, and the
    # endpoints' refusals.
    for pattern in (r"\b(?:TokenError|ServiceUnavailable|DoubleTokenError)\(\s*([A-Z_]+)\b",
                    r"\._close\(\s*([A-Z_]+)\)", r"\bcode=([A-Z_]+)\b",
                    r"default_code = ([A-Z_]+)", r"\b(?:Refusal|cls)\.coded\(\s*([A-Z_]+)\b"):
        raised |= {_constant(name) for name in re.findall(pattern, source)}
    built = r"(?:\bcode=|default_code = |(?:TokenError|ServiceUnavailable)\()"
    literals = re.findall(built + r"\"([a-z_]+)\"", source)
    raised |= {literal for literal in literals if literal not in ("max_length",
                                                                 "invalid_choice")}
    # DRF's own exceptions the package raises (their default codes reach clients).
    for name in set(re.findall(r"\braise ([A-Z][A-Za-z]+)\(", source)) | set(
            re.findall(r"\b([A-Z][A-Za-z]+)\.default_code", source)):
        drf_class = getattr(drf_exceptions, name, None)
        if isinstance(drf_class, type) and issubclass(drf_class, drf_exceptions.APIException):
            raised.add(drf_class.default_code)
    raised.discard("invalid")  # a ValidationError's field errors, never a top-level code
    assert {errors.TOKEN_EXPIRED, errors.PARSE_ERROR, errors.CSRF_FAILED} <= raised
    assert raised - set(ERROR_CODES) == set()


def test_domain_errors_carry_core_codes_only():
    """A face's own code (``not_authenticated``, say) is never raised as a core error."""
    raised = re.findall(r"\b(?:TokenError|ServiceUnavailable|DoubleTokenError)\(\s*([A-Z_]+)\b",
                        _source())
    assert raised and {_constant(name) for name in raised} <= errors.CORE_CODES
    core, table = errors.CORE_CODES, set(ERROR_CODES)
    assert core <= table


def test_every_code_constant_is_in_the_table():
    constants = {value for name, value in vars(errors).items()
                 if name.isupper() and isinstance(value, str)
                 and value not in (*errors.ACTIONS, errors.INVALID_TOKEN_CHALLENGE)}
    assert constants == set(ERROR_CODES)


def test_drf_renders_its_own_codes_with_the_tables_status():
    """DRF (with the app's exception handler) renders its exceptions itself: their statuses
    must be the table's."""
    from django_doubletoken.endpoints.body import too_large
    from django_doubletoken.parsers import RefusalError

    classes = [c for c in vars(drf_exceptions).values() if isinstance(c, type)
               and issubclass(c, drf_exceptions.APIException) and c.default_code in ERROR_CODES]
    assert {c.default_code for c in classes} >= {"not_authenticated", "throttled", "parse_error",
                                                 "permission_denied"}
    for drf_class in classes:
        assert drf_class.status_code == ERROR_CODES[drf_class.default_code].status, drf_class
    # The app's own refusals reach DRF as RefusalError, with the table's status.
    too_large_error = RefusalError(too_large())
    assert too_large_error.get_codes() == "request_too_large"
    assert too_large_error.status_code == ERROR_CODES["request_too_large"].status
