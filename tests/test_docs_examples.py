"""The how-to pages' code, run as a reader would paste it: each block is read from its page in
docs/ and executed unchanged except for the host (the live server instead of api.example.com),
the credentials (the test user's) and file paths (the test's own). The tutorial and the README's
quickstart: tests/test_quickstart.py; e-mail login: tests/test_email_login.py (the page
includes tests/email_backend.py)."""

from __future__ import annotations

import ast
import json
import re
import shlex
import textwrap
from pathlib import Path

import pytest
import requests
from django.core.management import call_command

from .browser import browser  # noqa: F401  (fixture)
from .test_keys import _pem_pair

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HOST = "https://api.example.com"


def blocks(page: str, language: str = "python") -> list[str]:
    """The page's code blocks in ``language``, those nested in a list item dedented."""
    text = (DOCS / page).read_text()
    fences = re.findall(r"^([ \t]*)```(\w+)[^\n]*\n(.*?)^\1```", text, re.S | re.M)
    return [textwrap.dedent(code) for _, lang, code in fences if lang == language]


@pytest.mark.parametrize("page", sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")))
def test_every_python_block_of_the_site_is_python(page):
    for code in blocks(page):
        if "--8<--" in code:
            continue  # included from a file, which its own tests import
        ast.parse(code, filename=page)


def _as_reader(code: str, base: str, password: str) -> str:
    return code.replace(HOST, base).replace('"s3cret"', repr(password))


def test_python_client_requests_and_httpx(live_server, user, password, transactional_db):
    requests_block, httpx_block, *_ = blocks("how-to/python-client.md")
    namespace: dict = {}
    exec(_as_reader(requests_block, live_server.url, password), namespace)
    assert namespace["session"].get(f"{live_server.url}/api/me/").json()["username"] == "alice"
    exec(_as_reader(httpx_block, live_server.url, password), {})  # sync, then 20 async calls


def test_python_client_persisted_tokens(live_server, user, password, transactional_db, tmp_path):
    _, _, persisting, *_ = blocks("how-to/python-client.md")
    tokens = tmp_path / "tokens.json"
    pair = requests.post(f"{live_server.url}/api/auth/login/", timeout=10,
                         json={"username": "alice", "password": password}).json()
    tokens.write_text(json.dumps({"access": pair["access"], "refresh": pair["refresh"]}))
    code = _as_reader(persisting, live_server.url, password).replace(
        'pathlib.Path("~/.config/my-cli/tokens.json").expanduser()',
        f"pathlib.Path({str(tokens)!r})")
    namespace: dict = {}
    exec(code, namespace)
    store = namespace["store"]
    assert store.tokens.access == pair["access"]

    from django_doubletoken.client import RequestsAuth

    session = requests.Session()
    session.auth = RequestsAuth(store)
    assert session.get(f"{live_server.url}/api/me/").status_code == 200
    # Logged out elsewhere: the next call ends the session here, and the page's callback
    # forgets the saved tokens.
    requests.post(f"{live_server.url}/api/auth/logout/", timeout=10,
                  headers={"Authorization": f"Bearer {pair['access']}"})
    assert session.get(f"{live_server.url}/api/me/").status_code == 401
    assert store.tokens is None and not tokens.exists()


def test_keys_es256_and_a_resource_server_reading_jwks(settings, live_server, user, password,
                                                       transactional_db, tmp_path):
    configure, resource_server = blocks("how-to/keys.md")
    private, _ = _pem_pair("ES256")
    pem = tmp_path / "jwt-es256.pem"
    pem.write_text(private)
    namespace: dict = {"Path": Path}
    exec(configure.replace('"/run/secrets/jwt-es256.pem"', repr(str(pem))), namespace)
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **namespace["DOUBLETOKEN"]}
    token = requests.post(f"{live_server.url}/api/auth/login/", timeout=10,
                          json={"username": "alice", "password": password}).json()["access"]

    import jwt

    reader = {"jwt": jwt, "token": token}
    exec(_as_reader(resource_server, live_server.url, password), reader)
    assert reader["claims"]["sub"] == str(user.pk)


def test_cookie_mode_settings(settings, api, user, password, db):
    (configure,) = blocks("how-to/cookie-mode.md")
    namespace: dict = {}
    exec(configure, namespace)
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **namespace["DOUBLETOKEN"]}
    response = api.post("/api/auth/login/", {"username": "alice", "password": password},
                        format="json")
    assert response.status_code == 200 and "refresh" not in response.json()
    cookie = response.cookies["refresh_token"]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Strict"


def test_sessions_admin_mixin_and_purge_commands(db, capsys):
    (mixin,) = blocks("how-to/sessions.md")
    from django.contrib.auth.admin import UserAdmin

    namespace: dict = {"UserAdmin": UserAdmin}
    exec(mixin, namespace)
    assert issubclass(namespace["MyUserAdmin"], UserAdmin)
    (purge,) = blocks("how-to/sessions.md", "sh")
    for line in purge.strip().splitlines():
        words = shlex.split(line.split("#")[0])
        assert words[:3] == ["python", "manage.py", "purge_device_sessions"], words
        call_command(*words[2:])
    assert capsys.readouterr().out


def test_openapi_header_for_your_own_view():
    (view,) = blocks("how-to/openapi.md")
    from rest_framework.views import APIView

    namespace: dict = {"APIView": APIView}
    exec(view, namespace)
    assert namespace["ProfileView"].get


def test_the_security_pages_parser_settings_are_the_fuzzed_ones():
    """tests/test_fuzz.py fuzzes a project view (/echo/) under the example project's
    REST_FRAMEWORK; the security model page recommends the same parsers and handler."""
    (recommended,) = [code for code in blocks("explanation/security.md")
                      if "DEFAULT_PARSER_CLASSES" in code]
    namespace: dict = {}
    exec(recommended, namespace)
    from example_project.settings import REST_FRAMEWORK

    for key in ("DEFAULT_PARSER_CLASSES", "EXCEPTION_HANDLER"):
        assert namespace["REST_FRAMEWORK"][key] == REST_FRAMEWORK[key], key


def _block_with(page: str, marker: str) -> str:
    (code,) = [code for code in blocks(page) if marker in code]
    return code


def test_custom_claims_a_permission_and_a_resource_server(settings, live_server, user, password,
                                                          transactional_db):
    from types import SimpleNamespace

    from django.contrib.auth.models import Group
    from django.test import RequestFactory

    from django_doubletoken.authentication import authenticate_bearer

    recipe: dict = {}
    exec(_block_with("how-to/extending.md", "def access_claims"), recipe)
    assert recipe["DOUBLETOKEN"] == {"ACCESS_TOKEN_CLAIMS": "myproject.claims.access_claims"}
    private, _ = _pem_pair("ES256")
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "ALGORITHM": "ES256", "SIGNING_KEY": private,
                            "ACCESS_TOKEN_CLAIMS": "tests.test_docs_examples.page_claims"}
    PAGE_CLAIMS.append(recipe["access_claims"])
    user.groups.add(Group.objects.create(name="editors"))
    token = requests.post(f"{live_server.url}/api/auth/login/", timeout=10,
                          json={"username": "alice", "password": password}).json()["access"]

    _, grant = authenticate_bearer(RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}"))
    assert recipe["IsEditor"]().has_permission(SimpleNamespace(auth=grant), None)
    assert not recipe["IsEditor"]().has_permission(SimpleNamespace(auth=None), None)

    reader: dict = {}
    exec(_as_reader(_block_with("how-to/extending.md", "def roles_of"), live_server.url,
                    password), reader)
    assert reader["roles_of"](f"Bearer {token}") == ["editors"]


PAGE_CLAIMS: list = []


def page_claims(user, session):
    """The claims function the page defines, as the setting's dotted path reaches it."""
    return PAGE_CLAIMS[-1](user, session)


def test_js_client_fetch_example_in_a_browser(live_server, user, password, transactional_db,
                                              browser):  # noqa: F811
    """The JS how-to's fetch example as a Django template: it signs in and logs /api/me/."""
    from django.template import engines

    (example,) = blocks("how-to/js-client.md", "html")
    source = "{% load static %}" + example.replace('"s3cret"', json.dumps(password))
    html = engines["django"].from_string(source).render({})
    url = f"{live_server.url}/docs-example/"
    page = browser.new_page()
    page.route(url, lambda route: route.fulfill(body=html, content_type="text/html"))
    with page.expect_console_message(lambda message: "alice" in message.text):
        page.goto(url)
    assert page.evaluate("JSON.parse(localStorage.getItem('doubletoken')).access")
    assert page.evaluate("location.pathname") == "/docs-example/"  # onLogout never ran


JS_EXAMPLES = ROOT / "tests" / "js_docs"
# Debian's node-axios: its browser ES module build, which the axios example imports.
AXIOS_ESM = Path("/usr/share/nodejs/axios/dist/esm/axios.js")


def _run_js_example(page, base: str, name: str, password: str) -> list[str]:
    """A page of the server that runs tests/js_docs/<name> as a module, the reader's
    "s3cret" replaced by the test user's password, "axios" mapped to the real axios.
    The page's uncaught errors are collected in the list returned."""
    source = (JS_EXAMPLES / name).read_text().replace('"s3cret"', json.dumps(password))
    html = ('<!doctype html><script type="importmap">'
            '{"imports": {"axios": "/docs-example/axios.js"}}</script>'
            '<body><script type="module" src="/docs-example/example.mjs"></script></body>')
    files = {"/docs-example/": ("text/html", html),
             "/docs-example/example.mjs": ("text/javascript", source)}
    if AXIOS_ESM.exists():
        files["/docs-example/axios.js"] = ("text/javascript", AXIOS_ESM.read_text())

    def serve(route):
        content_type, body = files[route.request.url.removeprefix(base)]
        route.fulfill(body=body, content_type=content_type)

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route(f"{base}/docs-example/**", serve)
    page.goto(f"{base}/docs-example/")
    return errors


def _page_included(page: str, snippet: str) -> None:
    assert f'--8<-- "tests/js_docs/{snippet}:example"' in (DOCS / page).read_text(), page


def test_js_client_axios_example_in_a_browser(live_server, user, password, transactional_db,
                                              browser):  # noqa: F811
    _page_included("how-to/js-client.md", "axios.mjs")
    assert AXIOS_ESM.exists(), "the axios example runs with Debian's node-axios (apt node-axios)"
    page = browser.new_page()
    errors = _run_js_example(page, live_server.url, "axios.mjs", password)
    page.wait_for_selector("body[data-result]", state="attached", timeout=20_000)
    assert json.loads(page.evaluate("document.body.dataset.result")) == {
        "username": "alice", "detach": "function"}, errors
    assert page.evaluate("location.pathname") == "/docs-example/"  # onLogout never ran
    assert not errors


def test_cookie_mode_resume_example_in_a_browser(settings, live_server, user, password,
                                                 transactional_db, browser):  # noqa: F811
    for page_name in ("how-to/js-client.md", "how-to/cookie-mode.md"):
        _page_included(page_name, "cookie-resume.mjs")
    (configure,) = blocks("how-to/cookie-mode.md")
    namespace: dict = {}
    exec(configure, namespace)
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **namespace["DOUBLETOKEN"]}

    page = browser.new_page()
    errors = _run_js_example(page, live_server.url, "cookie-resume.mjs", password)
    # No refresh cookie yet: the login form.
    page.wait_for_selector("body[data-state]", state="attached", timeout=20_000)
    assert page.evaluate("document.body.dataset.loginForm") == "shown", errors
    assert page.evaluate("document.body.dataset.state") == "signed-out"
    login = page.evaluate("""async (password) => (await fetch("/api/auth/login/", {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({username: "alice", password})})).json()""", password)
    assert "refresh" not in login  # in the HttpOnly cookie

    page.reload()
    page.wait_for_selector("body[data-state]", state="attached", timeout=20_000)
    assert page.evaluate("document.body.dataset.state") == "resumed", errors
    assert page.evaluate("document.body.dataset.loginForm") is None
    me = page.evaluate("async () => (await window.docsAuth.fetch('/api/me/')).json()")
    assert me["username"] == "alice"
    assert not errors


SIGN_IN = """async (password) => {
    const { createClient } = await import("/static/django_doubletoken/doubletoken.js");
    await createClient({ storage: "local" }).login({ username: "alice", password });
}"""


@pytest.mark.django_db(transaction=True)
def test_websocket_example_in_a_browser(browser, user, password, tmp_path):  # noqa: F811
    from .servers import app_server

    _page_included("how-to/websockets.md", "websocket.mjs")
    env = {"DEBUG": "0", "TICK_SECONDS": "0.2", "VAR_DIR": str(tmp_path)}
    with app_server("uvicorn", workers=1, environ=env) as base:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # A document the server itself sends (its 404 page): Chromium refuses a socket to a
        # local address from a page it did not load from one, as a routed page would be.
        page.goto(f"{base}/docs-example/")
        page.evaluate(SIGN_IN, password)
        source = (JS_EXAMPLES / "websocket.mjs").read_text()
        # The example's socket opens with the stored token, and logs the consumer's messages.
        with page.expect_console_message(_is_tick(3), timeout=30_000):
            page.add_script_tag(content=source, type="module")
        assert not errors


def _is_tick(count: int):
    def matches(message) -> bool:
        value = message.args[0].json_value() if message.args else None
        return isinstance(value, dict) and value == {**value, "type": "tick", "count": count}
    return matches


def _doubletoken_keys(code: str) -> set[str]:
    """The keys of every ``DOUBLETOKEN = {...}`` (or ``DOUBLETOKEN["KEY"] = ...``) in a block."""
    keys: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name) and target.id == "DOUBLETOKEN" and isinstance(
                    node.value, ast.Dict):
                keys |= {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
            if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                    and target.value.id == "DOUBLETOKEN"
                    and isinstance(target.slice, ast.Constant)):
                keys.add(target.slice.value)
    return keys


def test_every_setting_the_pages_configure_exists():
    from django_doubletoken.conf import DEFAULTS

    seen = set()
    for page in sorted(DOCS.rglob("*.md")):
        for code in blocks(str(page.relative_to(DOCS))):
            if "--8<--" in code:
                continue
            unknown = _doubletoken_keys(code) - set(DEFAULTS)
            assert not unknown, (page, unknown)
            seen |= _doubletoken_keys(code)
    readme = (ROOT / "README.md").read_text()
    for code in re.findall(r"```python\n(.*?)```", readme, re.S):
        assert _doubletoken_keys(code) <= set(DEFAULTS)
    assert {"ACCESS_TOKEN_LIFETIME", "REFRESH_COOKIE_NAME", "ALGORITHM"} <= seen
