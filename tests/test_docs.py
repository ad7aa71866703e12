"""The documentation site builds strictly (broken links, missing pages, a snippet whose file is
gone, a reference entry missing from the code), and its generated reference covers the code:
every setting, error code, system check and signal (docs_hooks/render.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from django_doubletoken import conf

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                             "--site-dir", str(out)], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def page(site: Path, path: str) -> str:
    return (site / path / "index.html").read_text()


def test_the_site_builds_strictly_with_every_page_of_the_nav(site):
    for path in ("tutorial", "how-to/extending", "how-to/email-login", "how-to/js-client",
                 "reference/python-api", "explanation/security", "explanation/changelog"):
        assert (site / path / "index.html").exists(), path


def test_every_setting_is_in_the_settings_reference(site):
    html = page(site, "reference/settings")
    for setting in conf.SETTINGS:
        assert f'id="{setting.name.lower()}"' in html, setting.name
    assert "timedelta(minutes=15)" in html  # defaults as a reader writes them


def test_every_error_code_and_check_is_in_the_reference(site):
    from docs_hooks import render

    errors = page(site, "reference/errors")
    for code in render.error_codes():
        assert f"<code>{code.code}</code>" in errors, code.code
    assert "4004" in errors and 'error_description="session_revoked"' in errors
    checks = page(site, "reference/checks")
    for identifier in render.check_ids_in_source():
        assert identifier in checks, identifier


def test_the_http_api_reference_is_rendered_from_the_schema(site):
    html = page(site, "reference/http-api")
    for path in ("/api/auth/login/", "/api/auth/refresh/", "/api/auth/sessions/{session_id}/"):
        assert path in html, path
    assert "openapi:" in (site / "reference" / "openapi.yaml").read_text()


def test_the_python_api_reference_has_the_docstrings(site):
    html = page(site, "reference/python-api")
    assert "django_doubletoken.shortcuts.login_response" in html
    assert "TokenStore" in html and "bearer_auth" in html


def test_a_setting_without_help_fails_the_build(monkeypatch):
    from docs_hooks import render

    undocumented = replace(conf.SETTINGS[0], help=" ")
    monkeypatch.setattr(conf, "SETTINGS", (undocumented, *conf.SETTINGS[1:]))
    with pytest.raises(render.ReferenceError, match=undocumented.name):
        render.settings_page()


def test_an_error_code_without_a_known_action_fails_the_build(monkeypatch):
    from docs_hooks import render

    codes = render.error_codes()
    unexplained = replace(codes[0], action="shrug")
    monkeypatch.setattr(render, "error_codes", lambda: [unexplained, *codes[1:]])
    with pytest.raises(render.ReferenceError, match=codes[0].code):
        render.errors_page()


def test_a_client_action_without_a_description_fails_the_build(monkeypatch):
    from django_doubletoken import errors
    from docs_hooks import render

    monkeypatch.setattr(errors, "ACTIONS", (*errors.ACTIONS, "pray"))
    with pytest.raises(render.ReferenceError, match="pray"):
        render.errors_page()


def test_a_check_missing_from_the_table_fails_the_build(monkeypatch):
    from docs_hooks import render

    specs = render.check_specs()
    monkeypatch.setattr(render, "check_specs", lambda: specs[1:])
    with pytest.raises(render.ReferenceError, match=specs[0].id):
        render.checks_page()


def test_a_signal_without_a_description_fails_the_build(monkeypatch):
    from django.dispatch import Signal

    from django_doubletoken import signals
    from docs_hooks import render

    monkeypatch.setattr(signals, "session_undocumented", Signal(), raising=False)
    with pytest.raises(render.ReferenceError, match="session_undocumented"):
        render.signals_page()


def test_how_tos_take_their_code_lists_and_close_codes_from_the_contract(site):
    from django_doubletoken import errors

    sockets = page(site, "how-to/websockets")
    assert "{{" not in sockets
    for entry in errors.ERROR_CODES.values():
        if entry.close_code is not None:
            assert f"<td>{entry.close_code}</td>" in sockets, entry.code
            assert f"<code>{entry.code}</code>" in sockets, entry.code
    logout = [c for c, e in errors.ERROR_CODES.items() if e.status == 401 and e.action == "login"]
    for path in ("how-to/extending", "how-to/js-client", "how-to/python-client"):
        html = page(site, path)
        assert "{{" not in html, path
        assert ", ".join(f"<code>{code}</code>" for code in logout) in html, path


def test_a_code_added_to_the_contract_reaches_the_how_tos(monkeypatch):
    from django_doubletoken import errors
    from docs_hooks import render

    # A close code no entry uses (4009 became insufficient_user_authentication's).
    added = errors.ErrorCode("device_locked", "Locked.", 401, "invalid_token", 4099, errors.LOGIN)
    monkeypatch.setattr(render, "error_codes", lambda: [*errors.ERROR_CODES.values(), added])
    assert "`device_locked`" in render.expand_placeholders("{{ codes action=login status=401 }}")
    assert "| 4099 | `device_locked` |" in render.expand_placeholders("{{ close_code_table }}")


@pytest.mark.parametrize("placeholder", [
    "{{ codes action=shrug }}",           # matches no code
    "{{ codes colour=red }}",             # no such filter
    "{{ close_codes }}",                  # no such placeholder
])
def test_a_placeholder_the_contract_cannot_fill_fails_the_build(placeholder):
    from docs_hooks import render

    with pytest.raises(render.ReferenceError, match="how-to/x.md"):
        render.expand_placeholders(f"text {placeholder} text", where="how-to/x.md")


def test_the_dpop_page_shows_the_reference_rows_of_its_codes(site):
    html = page(site, "explanation/dpop")
    assert "{{" not in html
    for code in ("invalid_dpop_proof", "use_dpop_nonce"):
        assert f'error_description="{code}"' in html, code
