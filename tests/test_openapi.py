"""The OpenAPI schema documents the bearer scheme and every endpoint; it is optional."""

import inspect
import os
import subprocess
import sys

import pytest
import yaml

PATHS = {
    "/api/auth/login/": "post", "/api/auth/refresh/": "post", "/api/auth/verify/": "post",
    "/api/auth/jwks/": "get", "/api/auth/logout/": "post", "/api/auth/logout-all/": "post",
    "/api/auth/sessions/": "get", "/api/auth/sessions/{session_id}/": "delete",
}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_bearer_scheme(schema):
    scheme = schema["components"]["securitySchemes"]["doubleTokenBearer"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert scheme["bearerFormat"] == "JWT" and "NEW_HTTP_AUTHORIZATION" in scheme["description"]


@pytest.mark.parametrize("path, method", PATHS.items())
def test_every_endpoint_is_documented(schema, path, method):
    operation = schema["paths"][path][method]
    assert operation["summary"] and operation["tags"] == ["auth"]
    public = path.rsplit("/", 2)[-2] in ("login", "refresh", "verify", "jwks")
    security = operation.get("security", [])
    assert (security in ([], [{}])) if public else {"doubleTokenBearer": []} in security
    if method != "get" or path.endswith("sessions/"):
        responses = operation["responses"]
        if path != "/api/auth/jwks/":
            assert responses["401"]["content"]["application/json"]["schema"]["$ref"].endswith(
                "/ErrorResponse")


@pytest.mark.parametrize("path, method", PATHS.items())
def test_descriptions_are_written_for_api_users(schema, path, method):
    from django_doubletoken import views

    description = schema["paths"][path][method]["description"]
    assert len(description) > 80
    internal = [inspect.getdoc(view) for view in vars(views).values()
                if inspect.isclass(view) and view.__module__ == views.__name__]
    for docstring in filter(None, internal):
        assert docstring.splitlines()[0] not in description, (path, docstring)


# Authenticated operations whose answer may carry a slid access token; the two log-outs end
# the session, so theirs never do.
SLIDING = {("/api/auth/sessions/", "get", "200"),
           ("/api/auth/sessions/{session_id}/", "delete", "204")}


@pytest.mark.parametrize("path, method", PATHS.items())
def test_the_new_token_header_is_declared_where_it_can_come(schema, path, method):
    for status, response in schema["paths"][path][method]["responses"].items():
        headers = response.get("headers", {})
        if (path, method, status) in SLIDING:
            header = headers["NEW_HTTP_AUTHORIZATION"]
            assert header["schema"]["type"] == "string"
            assert "Authorization" in header["description"]
        else:
            assert "NEW_HTTP_AUTHORIZATION" not in headers, (path, method, status)


def test_the_new_token_header_helper_follows_the_setting(settings):
    from django_doubletoken.openapi import new_token_header

    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "NEW_TOKEN_HEADER": "X-New-Token"}
    parameter = new_token_header()
    assert parameter.name == "X-New-Token" and parameter.response == [200]
    assert new_token_header([200, 201]).response == [200, 201]
    assert parameter.location == "header"


def test_shapes(schema):
    components = schema["components"]["schemas"]
    pair = components["TokenPairResponse"]["properties"]
    assert set(pair) == {"access", "refresh", "token_type", "access_expires_at",
                         "refresh_expires_at", "session_id"}
    codes = components["CodeEnum"]["enum"] if "CodeEnum" in components else \
        components["ErrorResponse"]["properties"]["code"]["enum"]
    assert {"token_expired", "session_revoked", "refresh_reused", "cache_unavailable"} <= \
        set(codes)
    verify = components["VerifyResponse"]["properties"]["expires_at"]
    assert verify["type"] == "string" and verify["format"] == "date-time"
    login = schema["paths"]["/api/auth/login/"]["post"]["requestBody"]["content"]
    assert set(login["application/json"]["schema"]["$ref"].split("/")[-1:]) == {"Login"}


def _error_code_schema(schema) -> dict:
    components = schema["components"]["schemas"]
    code = components["ErrorResponse"]["properties"]["code"]
    if "$ref" in code or "allOf" in code:
        ref = code["$ref"] if "$ref" in code else code["allOf"][0]["$ref"]
        return {**components[ref.split("/")[-1]], **code}
    return code


def test_the_error_shape_lists_every_code_of_the_contract(schema):
    from django_doubletoken.errors import ERROR_CODES

    code = _error_code_schema(schema)
    assert code["enum"] == list(ERROR_CODES)
    for entry in ERROR_CODES.values():  # each with its status, for the reader of the schema
        assert f"`{entry.code}` ({entry.status})" in code["description"], entry.code


def test_a_code_added_to_the_contract_reaches_the_schema(monkeypatch):
    from django_doubletoken import errors
    from django_doubletoken.openapi import error_code_field

    added = errors.ErrorCode("quota_exceeded", "Quota exceeded.", 429, None, None, errors.RETRY)
    monkeypatch.setitem(errors.ERROR_CODES, added.code, added)
    field = error_code_field()
    assert "quota_exceeded" in field.choices and "`quota_exceeded` (429)" in field.help_text


def test_error_answers_other_than_401_and_503_use_the_error_shape(schema):
    login = schema["paths"]["/api/auth/login/"]["post"]["responses"]
    for status in ("403", "413", "415"):
        ref = login[status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorResponse"), status


def test_a_400_is_the_error_shape_with_each_fields_messages(schema):
    components = schema["components"]["schemas"]
    for path in ("/api/auth/login/", "/api/auth/refresh/", "/api/auth/verify/"):
        answer = schema["paths"][path]["post"]["responses"]["400"]
        ref = answer["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
        properties = components[ref]["properties"]
        assert {"detail", "code", "errors"} <= set(properties), (path, properties)
        assert properties["errors"]["additionalProperties"]["items"]["type"] == "string"
        assert set(components[ref]["required"]) == {"detail", "code"}


def test_the_app_works_without_drf_spectacular():
    code = """
import sys
sys.modules["drf_spectacular"] = None  # as if it were not installed
from django.conf import settings
settings.configure(
    SECRET_KEY="x" * 50, ROOT_URLCONF="django_doubletoken.urls",
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "rest_framework",
                    "django_doubletoken"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    MIDDLEWARE=["django_doubletoken.middleware.SlidingTokenMiddleware"],
)
import django
django.setup()
from django.core.management import call_command
call_command("check")
import django_doubletoken.views
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={k: v for k, v in os.environ.items()
                                 if k != "DJANGO_SETTINGS_MODULE"}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
