"""The README's quickstart, pasted into a fresh `django-admin startproject` as a reader would.

Its code blocks are taken from README.md in order and run unchanged except for the Redis URL
(the test's own) and the port (a free one); with both cache examples: django-redis and Django's
own RedisCache. So the quickstart cannot drift from what works.
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

from .servers import free_port

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "mysite"


def quickstart_blocks() -> list[tuple[str, str]]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Quickstart\n"):]
    section = section[:section.index("\n## ", 5)]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


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
    assert languages == ["sh", "python", "python", "python", "sh", "sh"], languages
    (_, install), (_, settings_block), (_, view), (_, urls), (_, serve), (_, calls) = blocks
    assert install.strip() == "pip install django-doubletoken"  # done: we run from this tree

    if backend == "django":
        settings_block = _with_django_cache_backend(settings_block)
        assert "django.core.cache.backends.redis.RedisCache" in settings_block
    settings_block = settings_block.replace("redis://127.0.0.1:6379/0", settings.REDIS_URL)
    package = project / PROJECT
    with open(package / "settings.py", "a") as file:
        file.write("\n" + settings_block)
    (package / "views.py").write_text(view)
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
    assert '"token_type":"Bearer"' in outputs, outputs
    assert '{"id":1,"username":"alice"}' in outputs, outputs
    assert '{"detail":"This session has been logged out.","code":"session_revoked"}' in outputs

    check = _run("python manage.py check", project, env, timeout=60)
    assert check.returncode == 0 and "no issues" in check.stdout, check.stdout + check.stderr
    deploy = _run("python manage.py check --deploy", project, env, timeout=60)
    # startproject's SECRET_KEY is django-insecure-…: tokens would be signed with a key
    # derived from it, and the deploy check says so.
    assert "django_doubletoken.W005" in deploy.stdout + deploy.stderr

