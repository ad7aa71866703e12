"""Checks of the cache the app keeps its state in, and of the client-side cache."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import BaseCache
from django.core.checks import Tags, register
from django.utils.module_loading import import_string

from ..conf import doubletoken_settings
from . import problem

# Backends whose methods are coroutines only: the app's sync path cannot call them.
ASYNC_ONLY_BACKENDS = ("django_valkey.async_cache.",)

# Backends whose state one process (or one host) keeps to itself. With any of them a logout,
# revocation or slide handled by one worker is unknown to the others, so it is a warning in
# every mode: two runserver processes, or gunicorn with two workers, already show the hole.
UNSHARED_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache":
        "keeps its data inside each process",
    "django.core.cache.backends.dummy.DummyCache":
        "stores nothing, so no revocation or slide is remembered at all",
    "django.core.cache.backends.filebased.FileBasedCache":
        "is not shared between hosts and has no atomic add, so concurrent requests race",
}

# Backends on a cluster client that finds the cluster from its startup nodes.
CLUSTER_BACKENDS = ("django_valkey.cluster_cache.",)

# What decides which key, on which server, a cache call reaches.
SAME_DATA_SETTINGS = ("LOCATION", "KEY_PREFIX", "VERSION", "KEY_FUNCTION")


def cache_setting_problems() -> list:
    """Part of ``settings.check_settings``: the cache-related DOUBLETOKEN settings."""
    errors = [problem("E014", key=key, alias=getattr(doubletoken_settings, key))
              for key in ("CACHE_ALIAS", "ASYNC_CACHE_ALIAS")
              if getattr(doubletoken_settings, key) is not None
              and getattr(doubletoken_settings, key) not in settings.CACHES]
    acks = doubletoken_settings.REVOCATION_REPLICA_ACKS
    if not isinstance(acks, int) or acks < 0:
        errors.append(problem("E029"))
    elif acks and not _can_wait_for_replicas(
            settings.CACHES.get(doubletoken_settings.CACHE_ALIAS, {})):
        errors.append(problem("E018"))
    return errors + _client_side_cache()


def _client_side_cache() -> list:
    errors = []
    if not isinstance(doubletoken_settings.CLIENT_SIDE_CACHE, bool):
        errors.append(problem("E030"))
    size = doubletoken_settings.CLIENT_SIDE_CACHE_MAX_ENTRIES
    if not isinstance(size, int) or isinstance(size, bool) or size < 3:
        errors.append(problem("E031"))
    age = doubletoken_settings.CLIENT_SIDE_CACHE_MAX_AGE
    if not (isinstance(age, timedelta) and age > timedelta(0)):
        errors.append(problem("E032"))
    return errors


def _can_wait_for_replicas(config: dict) -> bool:
    backend = config.get("BACKEND", "")
    return (backend.startswith(("django_redis.", "django_valkey."))
            and not backend.startswith(ASYNC_ONLY_BACKENDS)
            and "ShardClient" not in config.get("OPTIONS", {}).get("CLIENT_CLASS", ""))


def unshared_cache_problems() -> list:
    """Part of ``deployment.check_setup``: W003, a cache the workers do not share."""
    alias = doubletoken_settings.CACHE_ALIAS
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if backend not in UNSHARED_CACHES:
        return []
    return [problem("W003", alias=alias, backend=backend, why=UNSHARED_CACHES[backend])]


@register(Tags.caches, "django_doubletoken")
def check_cache_backend(app_configs=None, **kwargs) -> list:
    """What the app needs from its cache besides being shared (W003, which also covers the
    backends without an atomic ``add``): synchronous methods, and a ``get_many`` in one round
    trip (a request's one cache read)."""
    alias = doubletoken_settings.CACHE_ALIAS
    config = settings.CACHES.get(alias)
    if not config:
        return []  # E014
    backend = config.get("BACKEND", "")
    try:
        backend_class = import_string(backend)
    except ImportError:
        return []  # Django's own cache check reports it
    if backend.startswith(ASYNC_ONLY_BACKENDS):
        return [problem("E020", alias=alias, backend=backend)]
    found = []
    client_class = str(config.get("OPTIONS", {}).get("CLIENT_CLASS", ""))
    one_get_per_key = backend not in UNSHARED_CACHES and (
        getattr(backend_class, "get_many", None) is BaseCache.get_many
        or client_class.endswith("ShardClient"))
    if one_get_per_key:
        described = f"{backend}, {client_class}" if client_class else backend
        found.append(problem("W006", alias=alias, backend=described))
    if backend.startswith(CLUSTER_BACKENDS):
        nodes = _startup_nodes(config)
        if len(nodes) < 2:  # host:port only: a LOCATION may carry a password
            found.append(problem("W007", alias=alias, location=", ".join(sorted(nodes))))
    return found + _async_cache(config)


def _startup_nodes(config: dict) -> set[str]:
    """The cluster nodes a new client may ask for the cluster's layout: ``LOCATION``'s and
    those of ``BASE_CLIENT_KWARGS['startup_nodes']`` (``ClusterNode``s), as host:port."""
    options = config.get("OPTIONS") or {}
    given = (options.get("BASE_CLIENT_KWARGS") or {}).get("startup_nodes") or []
    nodes = {f"{getattr(node, 'host', '?')}:{getattr(node, 'port', '?')}" for node in given}
    location = config.get("LOCATION")
    if isinstance(location, str) and location:
        url = urlsplit(location)
        try:
            port = url.port or 6379
        except ValueError:  # not a number: the client will say so when it connects
            port = "?"
        nodes.add(f"{url.hostname}:{port}")
    return nodes


def _async_cache(config: dict) -> list:
    alias = doubletoken_settings.ASYNC_CACHE_ALIAS
    async_config = settings.CACHES.get(alias) if alias else None
    if not async_config:
        return []
    differing = [name for name in SAME_DATA_SETTINGS
                 if _location(async_config.get(name)) != _location(config.get(name))]
    if not differing:
        return []
    return [problem("E021", alias=alias, sync_alias=doubletoken_settings.CACHE_ALIAS,
                    differing=", ".join(differing))]


def _location(value: Any) -> Any:
    """A LOCATION as a list of servers: redis:// and valkey:// alike, connection arguments
    (``?client_name=...``) left out."""
    if isinstance(value, str):
        value = value.split(",")
    if isinstance(value, (list, tuple)):
        return [str(v).replace("valkey://", "redis://", 1).split("?")[0] for v in value]
    return value
