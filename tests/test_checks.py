from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_doubletoken.checks import check_settings, check_setup


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
        ({"CLIENT_SIDE_CACHE": "yes"}, "E030"),
        ({"CLIENT_SIDE_CACHE_MAX_ENTRIES": 0}, "E030"),
        ({"CLIENT_SIDE_CACHE_MAX_AGE": 5}, "E030"),
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
    settings.MIDDLEWARE = ["django_doubletoken.middleware.SlidingTokenMiddleware"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.DEBUG = False
    assert [w.id for w in check_setup()] == ["django_doubletoken.W003"]
    settings.DEBUG = True
    assert check_setup() == []
