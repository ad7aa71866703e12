import re
import string
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.core.checks import ERROR, WARNING
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from valkey.cluster import ClusterNode

import django_doubletoken.checks
from django_doubletoken.checks import (
    CHECKS,
    PREFIX,
    check_cache_backend,
    check_channel_layers,
    check_deploy,
    check_migrations_applied,
    check_settings,
    check_setup,
    check_simplejwt_migration,
)


class KeyByKeyCache(LocMemCache):
    """Stands for a shared backend that keeps Django's default get_many (one get per key)."""


def _ids(settings, **doubletoken):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **doubletoken}
    return sorted(e.id for e in check_settings())


def test_the_test_settings_are_clean(settings):
    assert check_settings() == []


@pytest.mark.parametrize(
    "override, expected",
    [
        ({"ACCES_TOKEN_LIFETIME": timedelta(minutes=5)}, "E002"),
        ({"ACCESS_TOKEN_LIFETIME": 900}, "E003"),
        ({"REFRESH_TOKEN_LIFETIME": timedelta(0)}, "E003"),
        ({"GRACE_PERIOD": timedelta(seconds=-1)}, "E004"),
        ({"LEEWAY": "10s"}, "E004"),
        ({"CLIENT_PROFILES": {}}, "E024"),
        ({"CLIENT_PROFILES": {"web": []}}, "E025"),
        ({"CLIENT_PROFILES": {"web": {"ACCESS_LIFETIME": timedelta(1)}}}, "E005"),
        ({"DEFAULT_CLIENT": "tv"}, "E006"),
        ({"CLIENT_PROFILES": {"web": {"MAX_SESSIONS": 0}}}, "E007"),
        ({"SLIDING_THRESHOLD": timedelta(minutes=20)}, "E008"),
        ({"ACCESS_TOKEN_LIFETIME": timedelta(days=2)}, "E026"),
        ({"SESSION_LIFETIME": timedelta(hours=1)}, "E027"),
        ({"CLIENT_PROFILES": {"web": {"SESSION_LIFETIME": timedelta(0)}}}, "E003"),
        ({"ALGORITHM": "none"}, "E010"),
        ({"ALGORITHM": "HS999"}, "E010"),
        ({"SIGNING_KEY": "short"}, "E011"),
        ({"ALGORITHM": "RS256", "SIGNING_KEY": None}, "E012"),
        ({"PREVIOUS_VERIFYING_KEYS": "old"}, "E028"),
        ({"NEW_TOKEN_HEADER": "New Token"}, "E013"),
        ({"CACHE_ALIAS": "nope"}, "E014"),
        ({"MAX_TOKEN_LENGTH": 10}, "E015"),
        ({"LOGIN_THROTTLE_RATE": "lots"}, "E016"),
        ({"ISSUER": 42}, "E017"),
        ({"REVOCATION_REPLICA_ACKS": -1}, "E029"),
        ({"CLIENT_SIDE_CACHE": "yes"}, "E030"),
        ({"CLIENT_SIDE_CACHE_MAX_ENTRIES": 0}, "E031"),
        ({"CLIENT_SIDE_CACHE_MAX_AGE": 5}, "E032"),
        ({"REAUTHENTICATION_METHODS": []}, "E060"),
        ({"REAUTHENTICATION_METHODS": {"totp": {"VERIFY": "no.such.verifier", "ACR": "mfa",
                                                "AMR": ["otp"]}}}, "E060"),
        ({"REAUTHENTICATION_METHODS": {"totp": {"VERIFY": "tests.stepup_methods.verify_code",
                                                "ACR": "two words", "AMR": ["otp"]}}}, "E060"),
        ({"REAUTHENTICATION_METHODS": {"totp": {"VERIFY": "tests.stepup_methods.verify_code",
                                                "ACR": "mfa", "AMR": "otp"}}}, "E060"),
        ({"REAUTHENTICATION_METHODS": {"password": {
            "VERIFY": "tests.stepup_methods.verify_code", "ACR": "mfa", "AMR": ["otp"]}}}, "E060"),
        ({"PASSWORD_ACR": ""}, "E061"),
        ({"PASSWORD_ACR": 'a"b'}, "E061"),
    ],
)
def test_bad_settings_are_reported_with_a_hint(settings, override, expected):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **override}
    errors = check_settings()
    assert f"django_doubletoken.{expected}" in [e.id for e in errors]
    assert all(e.hint is not None for e in errors)


def test_a_bad_setting_stops_manage_py(settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "SLIDING_THRESHOLD": timedelta(hours=1)}
    with pytest.raises(SystemCheckError, match="SLIDING_THRESHOLD"):
        call_command("check")


def test_setup_warnings(settings):
    assert check_setup() == []
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "doubletoken" not in m]
    assert [w.id for w in check_setup()] == ["django_doubletoken.W001"]
    settings.MIDDLEWARE = ["corsheaders.middleware.CorsMiddleware",
                           "django_doubletoken.middleware.SlidingTokenMiddleware"]
    assert [w.id for w in check_setup()] == ["django_doubletoken.W002"]


@pytest.mark.parametrize("backend", [
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
])
@pytest.mark.parametrize("debug", [True, False])
def test_a_cache_workers_do_not_share_is_a_warning_in_every_mode(settings, backend, debug):
    settings.DEBUG = debug
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "/tmp/doubletoken-check"}}
    (warning,) = check_setup()
    assert warning.id == "django_doubletoken.W003"
    assert backend in warning.msg
    assert "SILENCED_SYSTEM_CHECKS = ['django_doubletoken.W003']" in warning.hint


def test_the_cache_warning_follows_cache_alias_and_can_be_silenced(settings):
    settings.CACHES = {**settings.CACHES,
                       "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert check_setup() == []  # the local cache exists, but the app does not use it
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "CACHE_ALIAS": "local"}
    output = StringIO()
    call_command("check", stderr=output, stdout=output)
    assert "django_doubletoken.W003" in output.getvalue()
    settings.SILENCED_SYSTEM_CHECKS = ["django_doubletoken.W003"]
    output = StringIO()
    call_command("check", stderr=output, stdout=output)
    assert "W003" not in output.getvalue()


@pytest.mark.parametrize("secret_key", [
    "django-insecure-" + "x8#k2!vq9z@m4w7r1t6y3u0p5s8d2f1g9h4j7k0l3",  # startproject's default
    "short-but-varied-0123",
    "a" * 60,
])
def test_deploy_check_warns_of_a_signing_key_derived_from_a_weak_secret_key(settings,
                                                                         secret_key):
    settings.SECRET_KEY = secret_key
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "SIGNING_KEY": None}
    assert [w.id for w in check_deploy()] == ["django_doubletoken.W005"]
    output = StringIO()
    call_command("check", deploy=True, stderr=output, stdout=output)
    assert "django_doubletoken.W005" in output.getvalue()
    output = StringIO()
    call_command("check", stderr=output, stdout=output)  # only with --deploy
    assert "W005" not in output.getvalue()


def test_deploy_check_is_quiet_with_a_signing_key_or_a_strong_secret_key(settings):
    settings.SECRET_KEY = "django-insecure-0123456789"
    assert check_deploy() == []  # the test settings set a dedicated SIGNING_KEY
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "SIGNING_KEY": None}
    settings.SECRET_KEY = "k7#Pq2@vX9!mZ4$wR1^tY6&uB3*nC8(dF5)gH0_jL" + "sE2+aQ7-oW"
    assert check_deploy() == []


@pytest.mark.parametrize("cache, expected", [
    ({"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
      "LOCATION": "/tmp/doubletoken-check"}, []),  # W003 says it: not shared, no atomic add
    ({"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache"}, []),
    ({"BACKEND": "tests.test_checks.KeyByKeyCache"}, ["W006"]),
    ({"BACKEND": "django_redis.cache.RedisCache", "LOCATION": ["redis://a", "redis://b"],
      "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"}}, ["W006"]),
    ({"BACKEND": "django_valkey.async_cache.cache.AsyncValkeyCache",
      "LOCATION": "valkey://a"}, ["E020"]),
    ({"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://a"}, []),
    ({"BACKEND": "django_valkey.cache.ValkeyCache", "LOCATION": "valkey://a"}, []),
    ({"BACKEND": "django_valkey.cluster_cache.cache.ClusterValkeyCache",
      "LOCATION": "valkey://a"}, ["W007"]),
    ({"BACKEND": "django_valkey.cluster_cache.cache.ClusterValkeyCache",
      "LOCATION": "valkey://user:secret@a:6379/0",
      "OPTIONS": {"BASE_CLIENT_KWARGS": {"startup_nodes": [ClusterNode("a", 6379)]}}},
     ["W007"]),  # the same node twice
    ({"BACKEND": "django_valkey.cluster_cache.cache.ClusterValkeyCache",
      "LOCATION": "valkey://a:port"}, ["W007"]),
    ({"BACKEND": "django_valkey.cluster_cache.cache.ClusterValkeyCache",
      "LOCATION": "valkey://a",
      "OPTIONS": {"BASE_CLIENT_KWARGS": {"startup_nodes": [ClusterNode("b", 6379)]}}}, []),
    ({"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
      "LOCATION": "127.0.0.1:11211"}, []),
])
def test_cache_backends_that_cannot_do_what_the_app_needs_are_reported(settings, cache,
                                                                       expected):
    settings.CACHES = {"default": cache}
    found = check_cache_backend()
    assert [e.id.removeprefix("django_doubletoken.") for e in found] == expected
    assert all(e.hint for e in found)
    assert not any("secret" in e.msg for e in found)  # a LOCATION's password stays out


def test_async_cache_alias_must_reach_the_same_keys(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django_valkey.cache.ValkeyCache",
                    "LOCATION": "valkey://127.0.0.1:6379/1"},
        "async": {"BACKEND": "django_valkey.async_cache.cache.AsyncValkeyCache",
                  "LOCATION": "valkey://127.0.0.1:6379/1?client_name=async"},
    }
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "ASYNC_CACHE_ALIAS": "async"}
    assert check_cache_backend() == [] and check_settings() == []
    settings.CACHES["async"]["LOCATION"] = "valkey://127.0.0.1:6379/2"
    assert [e.id for e in check_cache_backend()] == ["django_doubletoken.E021"]
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "ASYNC_CACHE_ALIAS": "nope"}
    assert "django_doubletoken.E014" in [e.id for e in check_settings()]


@pytest.mark.parametrize("cache, ok", [
    ({"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://a"}, True),
    ({"BACKEND": "django_valkey.cluster_cache.cache.ClusterValkeyCache",
      "LOCATION": "valkey://a"}, True),
    ({"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://a"}, False),
    ({"BACKEND": "django_redis.cache.RedisCache", "LOCATION": ["redis://a", "redis://b"],
      "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"}}, False),
])
def test_replica_acks_need_a_backend_that_can_send_wait(settings, cache, ok):
    settings.CACHES = {"default": cache}
    assert (_ids(settings, REVOCATION_REPLICA_ACKS=1) == []) is ok


# --- the registry: one id, one problem, each emitted by a scenario below -----------------

def _doubletoken(**changes):
    def apply(settings):
        settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **changes}
        return check_settings
    return apply


def _cache(cache, **changes):
    def apply(settings):
        settings.CACHES = {"default": cache}
        settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **changes}
        return check_cache_backend
    return apply


def _middleware(*middleware):
    def apply(settings):
        settings.MIDDLEWARE = list(middleware)
        return check_setup
    return apply


def _unshared_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return check_setup


def _plain_user_admin(settings, monkeypatch):
    from django.contrib import admin
    from django.contrib.auth import get_user_model

    user = get_user_model()
    monkeypatch.setitem(admin.site._registry, user, admin.ModelAdmin(user, admin.site))
    return check_setup


def _weak_secret_key(settings):
    settings.SECRET_KEY = "short"
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "SIGNING_KEY": None}
    return check_deploy


def _not_a_dict(settings):
    settings.DOUBLETOKEN = "HS256"
    return check_settings


def _replica_acks_without_wait(settings):
    _cache({"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://a"},
           REVOCATION_REPLICA_ACKS=1)(settings)
    return check_settings


def _async_cache_elsewhere(settings):
    sync = {"BACKEND": "django_valkey.cache.ValkeyCache", "LOCATION": "valkey://127.0.0.1/1"}
    settings.CACHES = {"default": sync, "async": {
        **sync, "BACKEND": "django_valkey.async_cache.cache.AsyncValkeyCache",
        "KEY_PREFIX": "other"}}
    _doubletoken(ASYNC_CACHE_ALIAS="async")(settings)
    return check_cache_backend


def _dpop_without_cryptography(settings, monkeypatch):
    import jwt

    real = jwt.get_algorithm_by_name

    def without_cryptography(name):  # as PyJWT answers without the cryptography package
        if not name.startswith("HS"):
            raise NotImplementedError("Algorithm not supported")
        return real(name)

    monkeypatch.setattr(jwt, "get_algorithm_by_name", without_cryptography)
    return _doubletoken(DPOP="optional")(settings)


def _migration_until(until):
    def apply(settings):
        settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "SIMPLEJWT_MIGRATION": {"UNTIL": until}}
        return check_simplejwt_migration
    return apply


def _unmigrated(settings, monkeypatch):
    # What a fresh database answers (tests/test_schema_errors.py runs the real one).
    from django_doubletoken import database

    monkeypatch.setattr(database, "unapplied_migrations", lambda alias: ["0001_initial"])
    return check_migrations_applied


def _channel_layer_on_redis_py_defaults(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": ["redis://127.0.0.1:6379/0"]}}}
    return check_channel_layers


SCENARIOS = {
    "E001": _not_a_dict,
    "E002": _doubletoken(ACCES_TOKEN_LIFETIME=timedelta(minutes=5)),
    "E003": _doubletoken(ACCESS_TOKEN_LIFETIME=900),
    "E004": _doubletoken(LEEWAY="10s"),
    "E005": _doubletoken(CLIENT_PROFILES={"web": {"ACCESS_LIFETIME": timedelta(1)}}),
    "E006": _doubletoken(DEFAULT_CLIENT="tv"),
    "E007": _doubletoken(CLIENT_PROFILES={"web": {"MAX_SESSIONS": 0}}),
    "E008": _doubletoken(SLIDING_THRESHOLD=timedelta(minutes=20)),
    "E010": _doubletoken(ALGORITHM="HS999"),
    "E011": _doubletoken(SIGNING_KEY="short"),
    "E012": _doubletoken(ALGORITHM="RS256", SIGNING_KEY="not a pem"),
    "E013": _doubletoken(NEW_TOKEN_HEADER="New Token"),
    "E014": _doubletoken(CACHE_ALIAS="nope"),
    "E015": _doubletoken(MAX_TOKEN_LENGTH=10),
    "E016": _doubletoken(LOGIN_THROTTLE_RATE="lots"),
    "E017": _doubletoken(AUDIENCE=["a", "b"]),
    "E018": _replica_acks_without_wait,
    "E019": _doubletoken(GRACE_PERIOD=timedelta(hours=1)),
    "E020": _cache({"BACKEND": "django_valkey.async_cache.cache.AsyncValkeyCache",
                    "LOCATION": "valkey://a"}),
    "E021": _async_cache_elsewhere,
    "E022": _doubletoken(LOGIN_SERIALIZER="tests.nowhere.Serializer"),
    "E023": _doubletoken(ACCESS_TOKEN_CLAIMS="tests.claims_functions"),
    "E024": _doubletoken(CLIENT_PROFILES=[]),
    "E025": _doubletoken(CLIENT_PROFILES={"web": None}),
    "E026": _doubletoken(REFRESH_TOKEN_LIFETIME=timedelta(minutes=10)),
    "E027": _doubletoken(SESSION_LIFETIME=timedelta(hours=1)),
    "E028": _doubletoken(PREVIOUS_VERIFYING_KEYS="old"),
    "E029": _doubletoken(REVOCATION_REPLICA_ACKS="2"),
    "E030": _doubletoken(CLIENT_SIDE_CACHE=1),
    "E031": _doubletoken(CLIENT_SIDE_CACHE_MAX_ENTRIES=True),
    "E032": _doubletoken(CLIENT_SIDE_CACHE_MAX_AGE=timedelta(0)),
    "E050": _doubletoken(CLIENT_PROFILES={"web": {"DPOP": "on"}}),
    "E051": _doubletoken(DPOP_ALGORITHMS=[]),
    "E052": _doubletoken(DPOP_ALGORITHMS=["ES256", "HS256"]),
    "E053": _dpop_without_cryptography,
    "E054": _doubletoken(DPOP_PROOF_MAX_AGE=60),
    "E055": _doubletoken(DPOP_NONCE="yes"),
    "E060": _doubletoken(REAUTHENTICATION_METHODS={"totp": {"ACR": "mfa"}}),
    "E061": _doubletoken(PASSWORD_ACR="two words"),
    "E040": _migration_until("next summer"),
    "W001": _middleware(),
    "W002": _middleware("corsheaders.middleware.CorsMiddleware",
                        "django_doubletoken.middleware.SlidingTokenMiddleware"),
    "W003": _unshared_cache,
    "W004": _plain_user_admin,
    "W005": _weak_secret_key,
    "W006": _cache({"BACKEND": "tests.test_checks.KeyByKeyCache"}),
    "W007": _cache({"BACKEND": "django_valkey.cluster_cache.cache.ClusterValkeyCache",
                    "LOCATION": "valkey://10.0.0.1:6379"}),
    "W040": _unmigrated,
    "W041": _migration_until("2020-01-01T00:00:00Z"),
    "W010": _channel_layer_on_redis_py_defaults,
}


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_every_registered_check_is_emitted_as_registered(settings, monkeypatch, check_id):
    spec = CHECKS[check_id]
    scenario = SCENARIOS[check_id.removeprefix(PREFIX)]
    arguments = (settings, monkeypatch)[:scenario.__code__.co_argcount]
    found = [m for m in scenario(*arguments)() if m.id == check_id]
    assert found, f"the scenario of {check_id} does not emit it"
    for message in found:
        assert message.level == (ERROR if spec.level == "error" else WARNING)
        assert spec.subject in ("settings", "keys", "cache", "deployment")
        assert message.hint and message.msg
        # Built from the registry's templates: the fixed text of each is there.
        for template, text in ((spec.message, message.msg), (spec.hint, message.hint)):
            literals = [part for part, *_ in string.Formatter().parse(template) if part]
            assert all(part in text for part in literals), (template, text)


def test_every_id_the_checks_emit_is_registered():
    """Checks build their messages with ``problem("E0xx", ...)`` from the registry only: no
    other id, no message made by hand."""
    package = Path(django_doubletoken.checks.__file__).parent
    source = "\n".join(path.read_text() for path in package.glob("*.py")
                       if path.name != "__init__.py")
    used = set(re.findall(r"problem\(\"([EW]\d{3})\"", source))
    assert {PREFIX + short_id for short_id in used} == set(CHECKS)
    assert not re.search(r"\b(?:Error|Warning)\(|\bid=", source)
    assert len({spec.id for spec in CHECKS.values()}) == len(CHECKS)
