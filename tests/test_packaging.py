"""The built wheel and sdist carry everything, and the wheel works on its own."""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MUST_SHIP = [
    "django_doubletoken/py.typed",
    "django_doubletoken/migrations/0001_initial.py",
    "django_doubletoken/templates/django_doubletoken/admin/log_out_user.html",
    "django_doubletoken/templates/django_doubletoken/admin/sessions_inline.html",
    "django_doubletoken/templates/django_doubletoken/admin/log_out_session.html",
    "django_doubletoken/templates/admin/django_doubletoken/devicesession/submit_line.html",
    "django_doubletoken/templatetags/doubletoken_admin.py",
    "django_doubletoken/management/commands/purge_device_sessions.py",
    "django_doubletoken/openapi.py",
    "django_doubletoken/locale/fr/LC_MESSAGES/django.mo",
]


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    build_dir = tmp_path_factory.mktemp("src") / "django-doubletoken"
    # Build from a copy: no build artefacts land in the work tree.
    shutil.copytree(ROOT, build_dir, ignore=shutil.ignore_patterns(
        ".git", "var", "node_modules", "__pycache__", "*.egg-info", ".ruff_cache"))
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir",
         str(out), str(build_dir)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist


def _static_files():
    static = ROOT / "django_doubletoken" / "static"
    return [str(p.relative_to(ROOT)) for p in static.rglob("*") if p.is_file()]


def test_wheel_and_sdist_contents(dist):
    wheel, sdist = dist
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for name in MUST_SHIP + _static_files():
        assert name in in_wheel, name
        assert name in in_sdist, name
    assert not any(name.startswith(("tests/", "example_project/")) for name in in_wheel)
    metadata = zipfile.ZipFile(wheel).read(
        next(n for n in in_wheel if n.endswith("METADATA"))).decode()
    for classifier in ("Framework :: Django :: 5.2", "Framework :: Django :: 6.0",
                       "Programming Language :: Python :: 3.13"):
        assert f"Classifier: {classifier}" in metadata
    assert "Requires-Dist: PyJWT>=2.8" in metadata
    assert "License: BSD-3-Clause" in metadata or "License-Expression: BSD-3-Clause" in metadata
    assert any(name.endswith("LICENSE") and ".dist-info/" in name for name in in_wheel)
    assert {"LICENSE", "CHANGELOG.md", "README.md"} <= in_sdist


def test_one_version_everywhere(dist):
    """django_doubletoken.__version__ is the one source: the wheel's metadata reads it (setup.cfg
    `attr:`), the JS package and the changelog's newest entry must say the same."""
    import django_doubletoken

    version = django_doubletoken.__version__
    wheel, sdist = dist
    assert wheel.name.startswith(f"django_doubletoken-{version}-")
    assert sdist.name == f"django_doubletoken-{version}.tar.gz"
    package = json.loads((ROOT / "django_doubletoken/static/django_doubletoken/package.json")
                         .read_text())
    assert package["version"] == version
    assert package["license"] == "BSD-3-Clause"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    newest = re.search(r"^## \[?([^\]\s]+)", changelog, re.M).group(1)
    assert newest in (version, "Unreleased"), newest
    assert f"## [{version}]" in changelog or f"## {version}" in changelog


def test_installed_wheel_checks_and_migrates(dist, tmp_path):
    wheel, _ = dist
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # Django & co come from the running test environment: its site-packages directories go on
    # the new venv's path after the venv's own (a plain path line, so the work tree's editable
    # install hook in there is not run); the wheel itself goes into the venv.
    ask_site = "import sysconfig; print(sysconfig.get_path('purelib'))"
    new_site = subprocess.run([python, "-c", ask_site], capture_output=True, text=True,
                              check=True).stdout.strip()
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(new_site, "test_environment.pth").write_text("\n".join(sorted(ours)) + "\n")
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps",
                              "--disable-pip-version-check", str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    project = tmp_path / "project"
    shutil.copytree(ROOT / "example_project", project / "example_project",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "manage.py", project / "manage.py")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "REDIS_URL")}
    env["VAR_DIR"] = str(tmp_path / "var")

    def run(*args):
        result = subprocess.run([python, *args], cwd=project, capture_output=True, text=True,
                                env=env, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    where = run("-c", "import django_doubletoken; print(django_doubletoken.__file__)")
    assert where.strip().startswith(str(env_dir)), where  # the wheel, not the work tree
    run("manage.py", "check")
    assert "Applying django_doubletoken.0001_initial... OK" in run("manage.py", "migrate")
    run("manage.py", "makemigrations", "--check", "--dry-run")
