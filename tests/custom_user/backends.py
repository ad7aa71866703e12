"""An authentication backend in the style of lockout apps (django-axes): it needs the request,
counts failures per address and refuses every login from it after three."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest

MAX_FAILURES = 3


def _key(request: HttpRequest) -> str:
    return f"test-lockout:{request.META['REMOTE_ADDR']}"


class LockoutBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if not isinstance(request, HttpRequest):
            raise TypeError("the lockout backend needs the request")
        if (cache.get(_key(request)) or 0) >= MAX_FAILURES:
            return None
        return super().authenticate(request, username, password, **kwargs)


@receiver(user_login_failed)
def count_failure(sender, credentials, request=None, **kwargs):
    if request is not None:
        cache.set(_key(request), (cache.get(_key(request)) or 0) + 1, 300)
