"""The reference pages as Markdown, built from the code (see reference.py, the MkDocs hook).

Each ``*_page()`` raises ``ReferenceError`` when something in the code has no documentation
entry, so a new setting, error code, check or signal cannot ship undocumented.
"""

from __future__ import annotations

import ast
import inspect
import re
from datetime import timedelta
from typing import Any

REALM_CHALLENGE = 'Bearer realm="api"'


class ReferenceError(Exception):  # noqa: A001 -- the name a reader of a failed build expects
    """Something in the code has no documentation entry."""


def setup_django() -> None:
    """A minimal configuration: enough to import every module and generate the schema."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="docs-build-only-" + "x" * 40,
            INSTALLED_APPS=[
                "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.admin",
                "django.contrib.sessions", "django.contrib.messages",
                "rest_framework", "drf_spectacular", "django_doubletoken",
            ],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            ROOT_URLCONF="docs_hooks.urls",
            REST_FRAMEWORK={"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"},
            SPECTACULAR_SETTINGS={"TITLE": "django-doubletoken", "VERSION": _version()},
            USE_TZ=True,
        )
        django.setup()


def _version() -> str:
    import django_doubletoken

    return django_doubletoken.__version__


# --- values as a reader writes them in settings.py ---------------------------------------------

def literal(value: Any) -> str:
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
            if seconds and seconds % size == 0:
                return f"timedelta({unit}={seconds // size})"
        return f"timedelta(seconds={value.total_seconds():g})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(literal(item) for item in value)
        if isinstance(value, tuple):
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return f"[{inner}]"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
        return f"{value:_}"
    return repr(value)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# --- settings ----------------------------------------------------------------------------------

def settings_page() -> str:
    from django_doubletoken import conf

    missing = [s.name for s in conf.SETTINGS if not (s.help.strip() and s.type.strip())]
    if missing:
        raise ReferenceError(f"settings without a type or help text in conf.SETTINGS: {missing}")
    if list(conf.DEFAULTS) != [s.name for s in conf.SETTINGS]:
        raise ReferenceError("conf.DEFAULTS is not derived from conf.SETTINGS")
    lines = [
        "# Settings",
        "",
        "Every key of the one `DOUBLETOKEN` dict in your project's settings, generated from",
        "`django_doubletoken.conf.SETTINGS`. A key you leave out takes its default; a wrong",
        "value stops `manage.py` with a [system check](checks.md) error saying what to fix.",
        "The app reads them through `django_doubletoken.conf.doubletoken_settings`",
        "(`doubletoken_settings.ACCESS_TOKEN_LIFETIME`), reloaded when the settings change.",
        "",
        "```python",
        "from datetime import timedelta",
        "",
        "DOUBLETOKEN = {",
        '    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=10),',
        '    "SIGNING_KEY": os.environ["DOUBLETOKEN_SIGNING_KEY"],',
        "}",
        "```",
        "",
        "| setting | type | default |",
        "|---|---|---|",
    ]
    for setting in conf.SETTINGS:
        anchor = setting.name.lower()
        lines.append(f"| [`{setting.name}`](#{anchor}) | `{_cell(setting.type)}` | "
                     f"`{_cell(literal(setting.default))}` |")
    for setting in conf.SETTINGS:
        lines += [
            "", f"## `{setting.name}` {{ #{setting.name.lower()} }}", "",
            f"Type `{setting.type}` · default `{literal(setting.default)}`", "",
            setting.help,
        ]
    return "\n".join(lines) + "\n"


# --- error codes -------------------------------------------------------------------------------

def error_codes() -> list[Any]:
    from django_doubletoken import errors

    if hasattr(errors, "ERROR_CODES"):
        return list(errors.ERROR_CODES.values())
    return _error_codes_from_tables()


ACTIONS = {  # the client rule (tests/error_codes.json) and DESIGN.md's error contract
    "token_expired": "refresh (or use the newer access token already stored)",
    "token_revoked": "use the newer access token, else refresh",
    "token_invalid": "log in again",
    "session_revoked": "log in again",
    "session_expired": "log in again",
    "refresh_reused": "log in again",
    "invalid_credentials": "ask for the credentials again",
    "not_authenticated": "send the access token (log in)",
    "cache_unavailable": "retry later; nothing was changed",
    "database_unavailable": "retry later; nothing was changed",
}


def _error_codes_from_tables() -> list[Any]:
    """Until errors.ERROR_CODES exists: the codes from errors.MESSAGES and api_errors' tables."""
    from types import SimpleNamespace

    from django_doubletoken import api_errors, errors

    messages = {**errors.MESSAGES, api_errors.NOT_AUTHENTICATED:
                "Authentication credentials were not provided."}
    rows = []
    for code, message in messages.items():
        status = api_errors.STATUS_CODES.get(code, 401)
        no_token = code in (errors.INVALID_CREDENTIALS, api_errors.NOT_AUTHENTICATED)
        rows.append(SimpleNamespace(
            code=code, message=message, status=status,
            challenge=None if (status != 401 or no_token) else "invalid_token",
            close_code=api_errors.CLOSE_CODES.get(code), action=ACTIONS.get(code, "")))
    return rows


def errors_page() -> str:
    codes = error_codes()
    undocumented = [c.code for c in codes if not (str(c.message).strip() and c.action.strip())]
    if undocumented:
        raise ReferenceError(f"error codes without a message or action: {undocumented}")
    lines = [
        "# Error codes",
        "",
        'Every error is a JSON body `{"detail": "...", "code": "..."}`. A 401 carries the RFC 6750',
        "challenge in `WWW-Authenticate`: `" + REALM_CHALLENGE + "` when there was no token to",
        'refuse, and `error="invalid_token", error_description="<code>"` added when a token was',
        "refused. A WebSocket closes with the close code instead, the `code` as its reason.",
        "Generated from `django_doubletoken.errors.ERROR_CODES`; the rule every client follows is",
        "in the [JS](../how-to/js-client.md) and [Python](../how-to/python-client.md) client",
        "how-tos.",
        "",
        "| code | HTTP | `WWW-Authenticate` | WebSocket close | message | the client should |",
        "|---|---|---|---|---|---|",
    ]
    for c in codes:
        header = _challenge_header(c)
        close = str(c.close_code) if c.close_code is not None else "—"
        lines.append(f"| `{c.code}` | {c.status} | {header} | {close} | {_cell(c.message)} | "
                     f"{_cell(c.action)} |")
    return "\n".join(lines) + "\n"


def _challenge_header(code: Any) -> str:
    if code.status != 401:
        return "—"
    if code.challenge is None:
        return f"`{REALM_CHALLENGE}`"
    return (f'`{REALM_CHALLENGE}, error="{code.challenge}", '
            f'error_description="{code.code}"`')


# --- system checks -----------------------------------------------------------------------------

def check_specs() -> list[Any]:
    from django_doubletoken import checks

    if hasattr(checks, "CHECKS"):
        return list(checks.CHECKS.values())
    return _check_specs_from_source()


def _check_calls() -> list[tuple[str, str, str, str]]:
    """(id, level, message, hint) of every Error/Warning the checks module builds, read from
    its source; f-string fields shown as {name}."""
    from django_doubletoken import checks

    found = []
    for node in ast.walk(ast.parse(inspect.getsource(checks))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        if node.func.id == "_error" and len(node.args) == 3:
            message, hint, number = node.args
            if isinstance(number, ast.Constant):
                found.append((f"django_doubletoken.E{number.value:03d}", "error",
                              _text(message), _text(hint)))
        elif node.func.id in ("Error", "Warning") and "id" in keywords:
            identifier = keywords["id"]
            if isinstance(identifier, ast.Constant):
                found.append((identifier.value, node.func.id.lower(), _text(node.args[0]),
                              _text(keywords.get("hint"))))
    return found


def _text(node: Any) -> str:
    if node is None:
        return ""
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(part) if isinstance(part, ast.Constant)
                       else "{" + ast.unparse(part.value) + "}" for part in node.values)
    if isinstance(node, ast.Name):
        return "(see the message)"
    return ast.unparse(node)


def _check_specs_from_source() -> list[Any]:
    from types import SimpleNamespace

    specs: dict[str, Any] = {}
    for identifier, level, message, hint in _check_calls():
        spec = specs.setdefault(identifier, SimpleNamespace(
            id=identifier, level=level, subject="", message=message, hint=hint))
        if message not in spec.message:
            spec.message += " / " + message
        if hint and hint not in spec.hint:
            spec.hint = f"{spec.hint} / {hint}" if spec.hint else hint
    for spec in specs.values():
        spec.hint = spec.hint or "—"  # the source has none (E017); CHECKS will
    return list(specs.values())


def check_ids_in_source() -> set[str]:
    """Every check id the checks module can emit, read from its source."""
    from django_doubletoken import checks

    source = inspect.getsource(checks)
    return set(re.findall(r"django_doubletoken\.[EW]\d{3}", source)) | {
        identifier for identifier, *_ in _check_calls()}


def checks_page() -> str:
    specs = check_specs()
    documented = {spec.id for spec in specs}
    missing = sorted(check_ids_in_source() - documented)
    if missing:
        raise ReferenceError(f"system checks without an entry in checks.CHECKS: {missing}")
    empty = [s.id for s in specs if not (s.message.strip() and s.hint.strip())]
    if empty:
        raise ReferenceError(f"system checks without a message or hint: {empty}")
    lines = [
        "# System checks",
        "",
        "Run by `manage.py check` and at startup; the `deploy` ones by `manage.py check --deploy`.",
        "Errors stop the project; a warning can be silenced with `SILENCED_SYSTEM_CHECKS` when",
        "it does not apply (say `django_doubletoken.W003` for a single `runserver` process).",
        "Generated from `django_doubletoken.checks.CHECKS`.",
        "",
        "| id | level | about | message | hint |",
        "|---|---|---|---|---|",
    ]
    for spec in sorted(specs, key=lambda s: s.id):
        lines.append(f"| `{spec.id}` | {spec.level} | {_cell(spec.subject)} | "
                     f"{_cell(spec.message)} | {_cell(spec.hint)} |")
    return "\n".join(lines) + "\n"


# --- signals -----------------------------------------------------------------------------------

def signals_page() -> str:
    from django.dispatch import Signal

    from django_doubletoken import signals

    doc = inspect.getdoc(signals) or ""
    table, _, rest = doc.partition("\n\nReceivers")
    entries = {}
    for line in table.splitlines():
        match = re.match(r"``(\w+)``\s+(.*)", line)
        if match:
            entries[match[1]] = match[2]
            last = match[1]
        elif line.startswith(" ") and entries:
            entries[last] += " " + line.strip()
    defined = [name for name, value in vars(signals).items() if isinstance(value, Signal)]
    missing = [name for name in defined if name not in entries]
    if missing:
        raise ReferenceError(f"signals not described in django_doubletoken.signals: {missing}")
    lines = [
        "# Signals",
        "",
        "In `django_doubletoken.signals`, sent with `sender=DeviceSession` after the change is",
        "committed. Generated from that module.",
        "",
        "| signal | keyword arguments |",
        "|---|---|",
    ]
    for name in defined:
        lines.append(f"| `{name}` | {_cell(_rst_to_md(entries[name]))} |")
    lines += ["", _rst_to_md("Receivers" + rest), "",
              "```python",
              "from django.dispatch import receiver",
              "from django_doubletoken.signals import session_revoked",
              "",
              "",
              "@receiver(session_revoked)",
              "def tell_security(sender, session, reason, **kwargs):",
              "    ...",
              "```",
              "",
              "Receivers that the tests run: "
              "[Extending](../how-to/extending.md#signal-receivers-sync-and-async)."]
    return "\n".join(lines) + "\n"


def _rst_to_md(text: str) -> str:
    return re.sub(r"``(.+?)``", r"`\1`", text)


# --- the HTTP API ------------------------------------------------------------------------------

def openapi_schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def openapi_yaml() -> str:
    from drf_spectacular.renderers import OpenApiYamlRenderer

    return OpenApiYamlRenderer().render(openapi_schema(), renderer_context={}).decode()


def http_api_page() -> str:
    schema = openapi_schema()
    components = schema.get("components", {}).get("schemas", {})
    lines = [
        "# HTTP API",
        "",
        "The endpoints of `django_doubletoken.urls`, mounted at `/api/auth/` here (wherever you",
        "include them in yours), rendered from the OpenAPI schema drf-spectacular generates for",
        "them. The schema itself: [openapi.yaml](openapi.yaml) (load it into Swagger UI, Redoc or",
        "your client generator). Error bodies are described in [Error codes](errors.md).",
    ]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            lines += ["", f"## `{method.upper()} {path}`", "",
                      f"**{operation.get('summary', '')}**", "",
                      operation.get("description", "").strip(), ""]
            security = [name for entry in operation.get("security", []) for name in entry]
            lines.append("Authentication: " + (
                "`Authorization: Bearer <access token>`" if "doubleTokenBearer" in security
                else "none"))
            body = operation.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                if media == "application/json":
                    lines += ["", "Request body (JSON):", "",
                              *_fields(_resolve(content.get("schema", {}), components))]
            lines += ["", "| status | meaning | body |", "|---|---|---|"]
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                shape = next(iter(content.values()), {}).get("schema") if content else None
                lines.append(f"| {status} | {_cell(response.get('description', ''))} | "
                             f"{_cell(_shape_name(shape))} |")
                headers = response.get("headers", {})
                for header, spec in headers.items():
                    lines.append(f"| | header `{header}` | {_cell(spec.get('description', ''))} |")
    return "\n".join(lines) + "\n"


def _resolve(schema: dict, components: dict) -> dict:
    ref = schema.get("$ref")
    return components[ref.rsplit("/", 1)[-1]] if ref else schema


def _shape_name(schema: dict | None) -> str:
    if not schema:
        return "—"
    if "$ref" in schema:
        return "`" + schema["$ref"].rsplit("/", 1)[-1] + "`"
    if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        return "list of `" + schema["items"]["$ref"].rsplit("/", 1)[-1] + "`"
    return "`" + str(schema.get("type", "object")) + "`"


def _fields(schema: dict) -> list[str]:
    required = set(schema.get("required", ()))
    rows = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, spec in schema.get("properties", {}).items():
        kind = spec.get("type") or ("one of " + ", ".join(map(str, spec.get("enum", [])))
                                    if "enum" in spec else "object")
        rows.append(f"| `{name}` | {_cell(kind)} | {'yes' if name in required else 'no'} | "
                    f"{_cell(spec.get('description', ''))} |")
    return rows
