"""Without django-ninja or Channels installed, the app never imports them (a subprocess with
both made unimportable), and their adapters say which extra to install."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent("""
    import importlib, importlib.abc, pkgutil, sys

    BLOCKED = ("ninja", "channels", "channels_redis", "daphne")

    class Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Absent())

    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth",
                        "django.contrib.contenttypes", "django.contrib.sessions",
                        "django.contrib.messages", "rest_framework", "django_doubletoken"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        ROOT_URLCONF="django_doubletoken.urls",
        MIDDLEWARE=["django_doubletoken.middleware.SlidingTokenMiddleware"],
        SECRET_KEY="x" * 50,
    )
    django.setup()
    import django_doubletoken
    adapters = {"django_doubletoken.ninja": "ninja", "django_doubletoken.channels": "channels",
                "django_doubletoken.live_revocation": "channels"}
    for module in pkgutil.walk_packages(django_doubletoken.__path__, "django_doubletoken."):
        if ".".join(module.name.split(".")[:2]) in adapters:
            continue
        importlib.import_module(module.name)
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not leaked, leaked
    for adapter, extra in adapters.items():
        try:
            importlib.import_module(adapter)
        except ImportError as exc:
            assert f"django-doubletoken[{extra}]" in str(exc), exc
        else:
            raise AssertionError(f"{adapter} imported without its extra")
    print("ok")
""")


def test_app_works_without_ninja_and_channels():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"
