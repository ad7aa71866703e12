import os

from django.apps import AppConfig


class TestsConfig(AppConfig):
    name = "tests"

    def ready(self) -> None:
        from . import receivers

        # App servers started by a test (tests/servers.py) connect the recording receivers
        # when asked to; the test process connects them itself, per test.
        if os.environ.get(receivers.ENV_SWITCH):
            receivers.connect()
