"""The README's quickstart and the docs' tutorial, pasted into a fresh `django-admin
startproject` as a reader would.

Their code blocks are taken from README.md and docs/tutorial/index.md in order and run unchanged
except for the Redis URL (the test's own) and the port (a free one): the quickstart with both
cache examples (django-redis and Django's own RedisCache) and curl, the tutorial's page in
headless chromium. So neither can drift from what works.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from .browser import browser  # noqa: F401  (fixture)
from .servers import free_port

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "mysite"


def quickstart_blocks() -> list[tuple[str, str]]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Quickstart\n"):]
    section = section[:section.index("\n## ", 5)]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


def tutorial_blocks() -> list[tuple[str, str, str]]:
    """(language, title, code) of every block of the tutorial, in order."""
    text = (ROOT / "docs" / "tutorial" / "index.md").read_text()
    return re.findall(r'```(\w+)(?: title="([^"]+)")?\n(.*?)```', text, re.S)


def _with_django_cache_backend(settings_block: str) -> str:
    """The settings block with its commented-out Django RedisCache example swapped in."""
    lines = settings_block.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# CACHES = {"))
    end = next(i for i in range(start, len(lines)) if lines[i] == "# }")
    uncommented = [line[2:] for line in lines[start:end + 1]]
    return "\n".join(lines[:start] + uncommented + lines[end + 1:]) + "\n"


@pytest.fixture
def fresh_project(tmp_path):
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items()
           if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"  # `python` is this environment's
    assert shutil.which("curl"), "the quickstart's calls use curl"
    subprocess.run([sys.executable, "-m", "django", "startproject", PROJECT], cwd=tmp_path,
                   env=env, check=True, timeout=60)
    return tmp_path / PROJECT, env


def _run(script: str, cwd: Path, env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, **kwargs)


@pytest.mark.parametrize("backend", ["django-redis", "django"])
def test_the_quickstart_works_when_pasted_into_a_new_project(fresh_project, backend):
    project, env = fresh_project
    blocks = quickstart_blocks()
    languages = [language for language, _ in blocks]
    assert languages == ["sh", "python", "python", "sh", "sh"], languages
    (_, install), (_, settings_block), (_, urls), (_, serve), (_, calls) = blocks
    # Done: we run from this tree (the comment tells how, before a PyPI release).
    assert install.split("#")[0].strip() == "pip install django-doubletoken"

    if backend == "django":
        settings_block = _with_django_cache_backend(settings_block)
        assert "django.core.cache.backends.redis.RedisCache" in settings_block
    settings_block = settings_block.replace("redis://127.0.0.1:6379/0", settings.REDIS_URL)
    package = project / PROJECT
    with open(package / "settings.py", "a") as file:
        file.write("\n" + settings_block)
    (package / "urls.py").write_text(urls)

    port = str(free_port())
    assert "runserver &" in serve  # on runserver's default port, 8000
    serve = serve.replace("8000", port).replace("runserver &", f"runserver {port} &")
    calls = calls.replace("8000", port)
    log = project / "serve.log"
    with open(log, "w") as output:
        server = subprocess.Popen(["bash", "-euo", "pipefail", "-c", serve], cwd=project,
                                  env=env, stdout=output, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        # The block's own wait loop returns once the server answers.
        server.wait(timeout=120)
        assert server.returncode == 0, log.read_text()
        result = _run(calls, project, env, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # runserver, left running by `&`

    outputs = result.stdout
    assert '"token_type":"Bearer"' in result.stderr, result.stderr  # the login answer, tee'd
    assert '{"id":1,"username":"alice"}' in outputs, outputs
    assert '{"detail":"This session has been logged out.","code":"session_revoked"}' in outputs

    check = _run("python manage.py check", project, env, timeout=60)
    assert check.returncode == 0 and "no issues" in check.stdout, check.stdout + check.stderr
    deploy = _run("python manage.py check --deploy", project, env, timeout=60)
    # startproject's SECRET_KEY is django-insecure-…: tokens would be signed with a key
    # derived from it, and the deploy check says so.
    assert "django_doubletoken.W005" in deploy.stdout + deploy.stderr


def _wait_until_up(url: str, server: subprocess.Popen, log: Path) -> None:
    import requests

    while True:
        assert server.poll() is None, log.read_text()
        try:
            requests.get(url, timeout=5)
            return
        except requests.ConnectionError:
            subprocess.run(["sleep", "0.3"], check=True)


def test_the_tutorial_signs_in_slides_and_lists_devices(fresh_project, browser):  # noqa: F811
    import requests

    project, env = fresh_project
    blocks = tutorial_blocks()
    files = {title: code for _, title, code in blocks if title}
    assert set(files) == {"mysite/settings.py", "mysite/views.py", "mysite/urls.py",
                          "templates/index.html"}, set(files)
    setup, run = [code for language, _, code in blocks if language == "sh"]
    assert "django-admin startproject mysite" in setup  # the fixture did that
    assert "pip install django-doubletoken" in setup  # done: we run from this tree

    settings_block = files["mysite/settings.py"].replace("redis://127.0.0.1:6379/0",
                                                         settings.REDIS_URL)
    with open(project / PROJECT / "settings.py", "a") as file:
        file.write("\n" + settings_block)
    for name in ("mysite/views.py", "mysite/urls.py", "templates/index.html"):
        (project / name).parent.mkdir(exist_ok=True)
        (project / name).write_text(files[name])

    port = free_port()
    assert run.rstrip().endswith("python manage.py runserver")
    run = run.rstrip() + f" {port}"
    log = project / "serve.log"
    with open(log, "w") as output:
        server = subprocess.Popen(["bash", "-euo", "pipefail", "-c", run], cwd=project, env=env,
                                  stdout=output, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url + "/api/auth/jwks/", server, log)
        page = browser.new_page()
        page.goto(url + "/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "wrong")
        page.click("text=Sign in")
        page.wait_for_selector("text=Wrong username or password.")
        page.fill("input[name=password]", "correct-horse-battery")
        page.click("text=Sign in")
        page.wait_for_selector("#me:text('alice')")
        page.wait_for_selector("#devices li")  # the page lists the devices after showing "me"
        devices = page.locator("#devices li").all_inner_texts()
        assert devices == ["Browser from 127.0.0.1 (this one)"], devices

        # Sliding: the one-minute token slides once 50 s or less are left.
        page.wait_for_function(  # the countdown shows 0 until the first tick after login
            "(left => left > 0 && left < 49)(Number(document.getElementById('left').textContent))")
        page.click("#call")
        page.wait_for_function("document.getElementById('slides').textContent === '1'")

        # A second device, logged out from the page: refused on its next request.
        other = requests.post(url + "/api/auth/login/", json={
            "username": "alice", "password": "correct-horse-battery", "device": "curl"},
            timeout=10).json()["access"]
        bearer = {"Authorization": f"Bearer {other}"}
        assert requests.get(url + "/api/whoami/", headers=bearer, timeout=10).status_code == 200
        page.click("#call")
        page.wait_for_selector("#devices li:has-text('curl')")
        page.click("#devices li:has-text('curl') button")
        page.wait_for_function("document.querySelectorAll('#devices li').length === 1")
        refused = requests.get(url + "/api/whoami/", headers=bearer, timeout=10)
        assert refused.status_code == 401 and refused.json()["code"] == "session_revoked"

        page.click("#logout")
        page.wait_for_selector("#login", state="visible")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
