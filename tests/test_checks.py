from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_doubletoken.checks import check_deploy, check_settings, check_setup


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
        ({"CLIENT_PROFILES": {}}, "E005"),
        ({"CLIENT_PROFILES": {"web": {"ACCESS_LIFETIME": timedelta(1)}}}, "E005"),
        ({"DEFAULT_CLIENT": "tv"}, "E006"),
        ({"CLIENT_PROFILES": {"web": {"MAX_SESSIONS": 0}}}, "E007"),
        ({"SLIDING_THRESHOLD": timedelta(minutes=20)}, "E008"),
        ({"ACCESS_TOKEN_LIFETIME": timedelta(days=2)}, "E008"),
        ({"SESSION_LIFETIME": timedelta(hours=1)}, "E008"),
        ({"ALGORITHM": "none"}, "E010"),
        ({"ALGORITHM": "HS999"}, "E010"),
        ({"SIGNING_KEY": "short"}, "E011"),
        ({"ALGORITHM": "RS256", "SIGNING_KEY": None}, "E012"),
        ({"NEW_TOKEN_HEADER": "New Token"}, "E013"),
        ({"CACHE_ALIAS": "nope"}, "E014"),
        ({"MAX_TOKEN_LENGTH": 10}, "E015"),
        ({"LOGIN_THROTTLE_RATE": "lots"}, "E016"),
        ({"ISSUER": 42}, "E017"),
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
