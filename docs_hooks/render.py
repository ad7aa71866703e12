"""The reference pages as Markdown, built from the code (see reference.py, the MkDocs hook).

Each ``*_page()`` raises ``ReferenceError`` when something in the code has no documentation
entry, so a new setting, error code, check or signal cannot ship undocumented.
"""

from __future__ import annotations

import inspect
import re
from datetime import timedelta
from pathlib import Path
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


def settings_table(prefix: str) -> str:
    """The settings whose names start with ``prefix``: name (linked to the reference), type,
    default and help, for a page that explains them."""
    from django_doubletoken import conf

    chosen = [s for s in conf.SETTINGS if s.name.startswith(prefix)]
    if not chosen:
        raise ReferenceError(f"no setting starts with {prefix!r}")
    lines = ["| setting | type | default | |", "|---|---|---|---|"]
    for setting in chosen:
        lines.append(f"| [`{setting.name}`](../reference/settings.md#{setting.name.lower()}) | "
                     f"`{_cell(setting.type)}` | `{_cell(literal(setting.default))}` | "
                     f"{_cell(setting.help)} |")
    return "\n".join(lines)


# --- error codes -------------------------------------------------------------------------------

def error_codes() -> list[Any]:
    from django_doubletoken import errors

    return list(errors.ERROR_CODES.values())


def action_texts() -> dict[str, str]:
    """What a client does, for each ``ErrorCode.action`` (errors.ACTIONS)."""
    from django_doubletoken import errors

    texts = {
        errors.REFRESH: "refresh once (one refresh for every request in flight), then send the "
                        "request again",
        errors.USE_NEWER_TOKEN: "send the request again with the newer access token already "
                                "received; refresh when there is none",
        errors.LOGIN: "drop the tokens and log in again",
        errors.RETRY: "keep the tokens and try again later: nothing was changed",
        errors.FIX_REQUEST: "change the request (credentials, body, method); the tokens are "
                            "not the problem",
        errors.STEP_UP: "have the user prove who they are again (reauthenticate/, as the "
                        "challenge's max_age / acr_values ask), then send the request again; "
                        "the tokens stay valid",
    }
    missing = set(errors.ACTIONS) - set(texts)
    if missing:
        raise ReferenceError(f"client actions without a description: {sorted(missing)}")
    return texts


def errors_page() -> str:
    from django_doubletoken.errors import INVALID_INPUT

    codes = error_codes()
    actions = action_texts()
    undocumented = [c.code for c in codes
                    if not (str(c.message).strip() and c.action in actions)]
    if undocumented:
        raise ReferenceError(f"error codes without a message or a known action: {undocumented}")
    lines = [
        "# Error codes",
        "",
        'Every refusal is a JSON body `{"detail": "...", "code": "..."}`. A request whose fields',
        'fail validation (`' + INVALID_INPUT + '`) also names each field\'s messages, in DRF\'s',
        'shape: `"errors": {"<field>": ["<message>", ...]}`. A 401 carries the RFC 6750',
        "challenge in `WWW-Authenticate`: `" + REALM_CHALLENGE + "` when there was no token to",
        'refuse, and `error="invalid_token", error_description="<code>"` added when a token was',
        "refused. A WebSocket closes with the close code instead, the `code` as its reason.",
        "Generated from `django_doubletoken.errors.ERROR_CODES`; the rule every client follows is",
        "in the [JS](../how-to/js-client.md) and [Python](../how-to/python-client.md) client",
        "how-tos.",
        "",
        *error_table_lines(codes, actions),
    ]
    return "\n".join(lines) + "\n"


def error_table_lines(codes: list[Any], actions: dict[str, str]) -> list[str]:
    lines = ["| code | HTTP | `WWW-Authenticate` | WebSocket close | message | the client should |",
             "|---|---|---|---|---|---|"]
    for c in codes:
        header = _challenge_header(c)
        close = str(c.close_code) if c.close_code is not None else "—"
        lines.append(f"| `{c.code}` | {c.status} | {header} | {close} | {_cell(c.message)} | "
                     f"{_cell(actions[c.action])} |")
    return lines


def _challenge_header(code: Any) -> str:
    if code.status != 401:
        return "—"
    if code.challenge is None:
        return f"`{REALM_CHALLENGE}`"
    from django_doubletoken.errors import DPOP_CHALLENGES, STEP_UP_CHALLENGE

    if code.challenge == STEP_UP_CHALLENGE:  # RFC 9470 §3: what the resource asks for
        return (f'`{REALM_CHALLENGE}, error="{code.challenge}", error_description="…", '
                'max_age=300` (or `acr_values="…"`)')
    # A refused DPoP proof is answered with the DPoP scheme (RFC 9449 §7.1).
    scheme = 'DPoP algs="…"' if code.challenge in DPOP_CHALLENGES else REALM_CHALLENGE
    return f'`{scheme}, error="{code.challenge}", error_description="{code.code}"`'


# --- error-code data inside hand-written pages ---------------------------------------------
#
# A how-to that names codes, statuses or close codes takes them from ERROR_CODES through a
# placeholder the hook expands, so a page cannot keep a list the code no longer matches:
#
#   {{ codes action=login status=401 }}   `token_invalid`, `session_revoked`, ... (inline)
#   {{ close_code_table }}                every WebSocket close code, its codes and action
#   {{ error_table code=use_dpop_nonce }} the error reference's rows for the codes chosen
#   {{ settings_table prefix=DPOP }}      the settings whose names start so, from conf.SETTINGS
#
# ``codes`` and ``error_table`` choose by ``code``, ``action``, ``status``, ``close`` and
# ``socket`` (a comma-separated list each, all must match); a filter matching nothing, an
# unknown filter or placeholder stops the build.

PLACEHOLDER = re.compile(r"\{\{\s*(\w+)((?:\s+\w+=[\w,]+)*)\s*\}\}")
CODE_FILTERS = {
    "code": lambda c: c.code,
    "action": lambda c: c.action,
    "status": lambda c: str(c.status),
    "close": lambda c: str(c.close_code),
    "socket": lambda c: "no" if c.close_code is None else "yes",  # closes a socket at all
}


def select_codes(filters: dict[str, str]) -> list[Any]:
    unknown = set(filters) - set(CODE_FILTERS)
    if unknown:
        raise ReferenceError(f"unknown error-code filters {sorted(unknown)}; "
                             f"known: {sorted(CODE_FILTERS)}")
    chosen = [c for c in error_codes()
              if all(CODE_FILTERS[key](c) in value.split(",") for key, value in filters.items())]
    if not chosen:
        raise ReferenceError(f"no error code matches {filters}")
    return chosen


def codes_inline(filters: dict[str, str]) -> str:
    return ", ".join(f"`{c.code}`" for c in select_codes(filters))


def close_code_table() -> str:
    actions = action_texts()
    by_close: dict[int, list[Any]] = {}
    for c in error_codes():
        if c.close_code is not None:
            by_close.setdefault(c.close_code, []).append(c)
    lines = ["| close code | reason (the error code) | message | the client should |",
             "|---|---|---|---|"]
    for close, codes in sorted(by_close.items()):
        reasons = ", ".join(f"`{c.code}`" for c in codes)
        messages = " / ".join(_cell(c.message) for c in codes)
        todo = " / ".join(dict.fromkeys(_cell(actions[c.action]) for c in codes))
        lines.append(f"| {close} | {reasons} | {messages} | {todo} |")
    return "\n".join(lines)


def expand_placeholders(markdown: str, where: str = "a page") -> str:
    """The page with each ``{{ ... }}`` placeholder replaced by data from ERROR_CODES."""

    def replace(match: re.Match) -> str:
        name, args = match[1], match[2].split()
        filters = dict(arg.split("=", 1) for arg in args)
        try:
            if name == "codes" and filters:
                return codes_inline(filters)
            if name == "close_code_table" and not filters:
                return close_code_table()
            if name == "error_table" and filters:
                return "\n".join(error_table_lines(select_codes(filters), action_texts()))
            if name == "settings_table" and set(filters) == {"prefix"}:
                return settings_table(filters["prefix"])
        except ReferenceError as error:
            raise ReferenceError(f"{where}: {match[0]}: {error}") from None
        raise ReferenceError(f"{where}: unknown placeholder {match[0]}")

    return PLACEHOLDER.sub(replace, markdown)


# --- system checks -----------------------------------------------------------------------------

def check_specs() -> list[Any]:
    from django_doubletoken import checks

    return list(checks.CHECKS.values())


def check_ids_in_source() -> set[str]:
    """Every check id the checks package emits, read from its source: ``problem("E001")``
    calls and full ids written out."""
    from django_doubletoken import checks

    found: set[str] = set()
    for module in Path(checks.__file__).parent.glob("*.py"):
        source = module.read_text()
        found |= {f"{checks.PREFIX}{short}"
                  for short in re.findall(r"problem\(\s*[\"']([EW]\d{3})[\"']", source)}
        found |= set(re.findall(r"django_doubletoken\.[EW]\d{3}", source))
    return found


def _template(text: str) -> str:
    """A check's ``str.format`` template as the reader sees it: braces unescaped."""
    return text.replace("{{", "{").replace("}}", "}")


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
        "Generated from `django_doubletoken.checks.CHECKS`; `{name}` stands for what the check",
        "found.",
        "",
        "| id | level | about | message | hint |",
        "|---|---|---|---|---|",
    ]
    for spec in sorted(specs, key=lambda s: s.id):
        lines.append(f"| `{spec.id}` | {spec.level} | {_cell(spec.subject)} | "
                     f"{_cell(_template(spec.message))} | {_cell(_template(spec.hint))} |")
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
            lines += _operation_lines(path, method, operation, components)
    lines += ["", "## Schemas", "", "The bodies named above."]
    for name, component in sorted(components.items()):
        lines += _schema_lines(name, component)
    return "\n".join(lines) + "\n"


def _operation_lines(path: str, method: str, operation: dict, components: dict) -> list[str]:
    lines = ["", f"## `{method.upper()} {path}`", "",
             f"**{operation.get('summary', '')}**", "",
             operation.get("description", "").strip(), ""]
    security = [name for entry in operation.get("security", []) for name in entry]
    lines.append("Authentication: " + (
        "`Authorization: Bearer <access token>`" if "doubleTokenBearer" in security else "none"))
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        lines += ["", "Request body (JSON):", "",
                  *_fields(_resolve(body["application/json"].get("schema", {}), components))]
    lines += ["", "| status | meaning | body |", "|---|---|---|"]
    for status, response in sorted(operation.get("responses", {}).items()):
        content = response.get("content", {})
        shape = next(iter(content.values()), {}).get("schema") if content else None
        lines.append(f"| {status} | {_cell(response.get('description', ''))} | "
                     f"{_cell(_shape_name(shape))} |")
        for header, spec in response.get("headers", {}).items():
            lines.append(f"| | header `{header}` | {_cell(spec.get('description', ''))} |")
    return lines


def _schema_lines(name: str, component: dict) -> list[str]:
    lines = ["", f"### `{name}`", ""]
    if component.get("description"):
        lines += [component["description"].strip(), ""]
    if "properties" in component:
        lines += _fields(component)
    elif "enum" in component:
        lines.append("One of " + ", ".join(f"`{value}`" for value in component["enum"]) + ".")
    return lines


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
    if "allOf" in schema or "oneOf" in schema:
        return " or ".join(_shape_name(part) for part in schema.get("allOf", schema.get("oneOf")))
    return "`" + str(schema.get("type", "object")) + "`"


def _fields(schema: dict) -> list[str]:
    required = set(schema.get("required", ()))
    rows = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, spec in schema.get("properties", {}).items():
        kind = spec.get("type") or _shape_name(spec)
        if spec.get("format"):
            kind += f" ({spec['format']})"
        if spec.get("type") == "array":
            kind = "list of " + _shape_name(spec.get("items"))
        rows.append(f"| `{name}` | {_cell(kind)} | {'yes' if name in required else 'no'} | "
                    f"{_cell(spec.get('description', ''))} |")
    return rows
