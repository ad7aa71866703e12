"""System check W010: a channels-redis layer whose Redis client gives up on a read before the
layer's blocking read (5 s) returns — redis-py 8's default — is reported, and the setup that
docs/websockets.md and the example project show is not."""

import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from django_doubletoken.checks import check_channel_layers

ROOT = Path(__file__).resolve().parent.parent
URL = "redis://127.0.0.1:6379/0"
CORE = "channels_redis.core.RedisChannelLayer"


def _layers(*hosts, backend=CORE):
    return {"default": {"BACKEND": backend, "CONFIG": {"hosts": list(hosts)}}}


def _warned(settings, layers):
    settings.CHANNEL_LAYERS = layers
    return [(w.id, w.msg) for w in check_channel_layers()]


@pytest.mark.parametrize("host", [
    URL,  # what the Channels docs and most projects write
    (("127.0.0.1", 6379)),
    {"address": URL},
    {"address": URL, "socket_timeout": 5},
    {"address": f"{URL}?socket_timeout=3"},
    {"master_name": "mymaster", "sentinels": [("127.0.0.1", 26379)]},
])
def test_a_read_timeout_at_or_below_the_blocking_read_is_reported(settings, host):
    found = _warned(settings, _layers(host))
    assert [id for id, _ in found] == ["django_doubletoken.W010"], found
    assert "blocking read (5 s)" in found[0][1]


@pytest.mark.parametrize("layers", [
    _layers({"address": URL, "socket_timeout": 10}),
    _layers(f"{URL}?socket_timeout=6"),
    _layers({"address": URL, "socket_timeout": None}),
    # Layers that never block longer than a client timeout.
    _layers(URL, backend="channels_redis.pubsub.RedisPubSubChannelLayer"),
    {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
    {},
])
def test_a_timeout_above_the_blocking_read_or_another_layer_is_fine(settings, layers):
    assert _warned(settings, layers) == []


def test_every_host_and_layer_is_looked_at(settings):
    layers = {**_layers({"address": URL, "socket_timeout": 10}, URL),
              "other": {"BACKEND": CORE, "CONFIG": {"hosts": [URL]}}}
    found = _warned(settings, layers)
    assert [msg.split(":")[0] for _, msg in found] == [
        "CHANNEL_LAYERS['default'] host 1", "CHANNEL_LAYERS['other'] host 0"]


def test_the_documented_setup_and_the_example_project_pass(settings):
    page = (ROOT / "docs/how-to/websockets.md").read_text()
    assert '--8<-- "example_project/settings.py:layers"' in page  # the page shows this section
    source = (ROOT / "example_project/settings.py").read_text()
    section = re.search(r"^# --8<-- \[start:layers\]\n(.*?)^# --8<-- \[end:layers\]$", source,
                        flags=re.MULTILINE | re.DOTALL)
    assert section, "example_project/settings.py marks its CHANNEL_LAYERS for the page"
    documented: dict = {}
    exec(section[1], {"os": _Environ(REDIS_URL=URL), "sys": sys}, documented)
    assert documented["CHANNEL_LAYERS"]["default"]["BACKEND"] == CORE
    assert _warned(settings, documented["CHANNEL_LAYERS"]) == []


class _Environ:
    """``os`` as the section sees it: only ``os.environ``, with the given variables."""

    def __init__(self, **environ: str) -> None:
        self.environ = environ


def test_the_example_project_passes(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings",
           "REDIS_URL": django_settings.REDIS_URL, "VAR_DIR": str(tmp_path)}
    # Migrated first: a fresh database is reported too (W040), rightly, and is not the point.
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "W010" not in result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout


def test_manage_py_check_shows_it_with_the_fix(settings):
    settings.CHANNEL_LAYERS = _layers(URL)
    out = StringIO()
    call_command("check", stdout=out, stderr=out)
    text = out.getvalue()
    assert "django_doubletoken.W010" in text and '"socket_timeout": 10' in text, text
