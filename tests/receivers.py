"""Signal receivers of every kind, recording into the shared Redis so that a test can see
what ran inside an app server process: a sync one using the ORM, a coroutine, and one of
each that raises."""

from __future__ import annotations

from django.core.cache import cache

from django_doubletoken import signals
from django_doubletoken.models import DeviceSession

ENV_SWITCH = "DOUBLETOKEN_TEST_RECEIVERS"


def marker(kind: str, session_id: str) -> str:
    return f"test-receivers:{kind}:{session_id}"


def sync_orm_receiver(sender, session_id, **kwargs):
    # A query from the event loop would raise SynchronousOnlyOperation.
    session = DeviceSession.objects.select_related("user").get(pk=session_id)
    cache.set(marker("sync", session_id), session.user.get_username(), 300)


async def async_receiver(sender, session_id, new_jti, **kwargs):
    await cache.aset(marker("async", session_id), new_jti, 300)


def raising_receiver(sender, **kwargs):
    raise RuntimeError("sync receiver failure")


async def raising_async_receiver(sender, **kwargs):
    raise RuntimeError("async receiver failure")


RECEIVERS = (sync_orm_receiver, async_receiver, raising_receiver, raising_async_receiver)


def connect() -> None:
    for receiver in RECEIVERS:
        signals.token_slid.connect(receiver, dispatch_uid=receiver.__name__)


def disconnect() -> None:
    for receiver in RECEIVERS:
        signals.token_slid.disconnect(dispatch_uid=receiver.__name__)
