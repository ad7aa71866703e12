"""The core knows no HTTP: only the face (authentication, views, middleware) imports DRF.

Each check runs in a fresh interpreter, so that what the test process already imported
cannot hide an import the checked modules make themselves.
"""

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import django_doubletoken
from django_doubletoken import services

CORE = ["conf", "errors", "keys", "tokens", "jws", "registered_claims", "store", "models",
        "signals", "checks", "receivers", "database", "dpop", "stepup", "reauthentication"]
SERVICES = [f"services.{m.name}" for m in pkgutil.iter_modules(services.__path__)]

SETUP = """
import sys
sys.modules["drf_spectacular"] = None  # its extensions import DRF; not part of the core
from django.conf import settings
settings.configure(
    SECRET_KEY="x" * 50,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django_doubletoken"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "django_doubletoken.authentication.DoubleTokenAuthentication"
        ],
        "EXCEPTION_HANDLER": "django_doubletoken.exception_handler.exception_handler",
    },
)
import django
django.setup()
"""


def run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", SETUP + code], capture_output=True, text=True, timeout=60,
        cwd=Path(django_doubletoken.__file__).parent.parent,
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_services_package_lists_its_lifecycle_modules():
    assert {"services.sessions", "services.rotation", "services.access"} <= set(SERVICES)


def test_the_core_imports_no_rest_framework():
    imports = "\n".join(f"import django_doubletoken.{name}" for name in CORE + SERVICES)
    leaked = run(imports + """
print(sorted(m for m in sys.modules if m.split(".")[0] == "rest_framework"))
""")
    assert leaked == "[]"


def test_the_face_still_imports_it():
    """The check above would pass vacuously if the subprocess could not see DRF at all."""
    assert run("import django_doubletoken.authentication\nprint('rest_framework' in sys.modules)"
               ) == "True"


@pytest.mark.parametrize("first, then", [
    ("django_doubletoken.exception_handler", "rest_framework.views"),
    ("rest_framework.views", "django_doubletoken.exception_handler"),
    ("django_doubletoken.authentication", "django_doubletoken.views"),
    ("django_doubletoken.views", "django_doubletoken.authentication"),
])
def test_no_import_cycle_between_the_face_and_drf(first, then):
    """DRF's APIView reads DEFAULT_AUTHENTICATION_CLASSES at import, which imports our
    authentication class: whichever side is imported first, both load completely."""
    assert run(f"""
import importlib
importlib.import_module({first!r})
importlib.import_module({then!r})
from rest_framework.views import APIView
from django_doubletoken.exception_handler import exception_handler
print(APIView.authentication_classes[0].__name__, exception_handler.__name__)
""") == "DoubleTokenAuthentication exception_handler"


PACKAGE = Path(django_doubletoken.__file__).parent
# The face-neutral modules: the endpoint layer, and what the Ninja face is built from.
NEUTRAL = sorted([*PACKAGE.glob("ninja/*.py"), *PACKAGE.glob("endpoints/*.py"),
                  PACKAGE / "bearer.py", PACKAGE / "http.py", PACKAGE / "sliding.py"])
# The app's DRF face: the Ninja face must not borrow from it.
DRF_FACE = ["authentication", "views", "serializers", "throttling", "parsers", "urls",
            "exception_handler", "exceptions", "shortcuts", "openapi", "decorators"]


def _imports(path: Path) -> set[str]:
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or ""))
    return names


@pytest.mark.parametrize("path", NEUTRAL, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_neutral_modules_import_no_rest_framework(path):
    assert not {name for name in _imports(path) if name.split(".")[0] == "rest_framework"}


def test_the_ninja_face_borrows_nothing_from_the_drf_face():
    """Loading the Ninja face (and its router) loads none of the app's DRF modules: both faces
    adapt the endpoint layer instead."""
    loaded = run("""
import django_doubletoken.ninja
from django_doubletoken.ninja import auth_router
auth_router()
print(sorted(m.rsplit(".", 1)[-1] for m in sys.modules if m.startswith("django_doubletoken.")))
""")
    assert "endpoints" in loaded and "router" in loaded
    assert not {name for name in DRF_FACE if f"'{name}'" in loaded}, loaded
