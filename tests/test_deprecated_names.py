"""Names renamed in 0.2 keep working, with a DeprecationWarning pointing at the new one."""

import importlib
import sys

import pytest


def test_the_settings_object_under_its_old_name():
    from django_doubletoken import conf

    with pytest.warns(DeprecationWarning, match="doubletoken_settings"):
        old = conf.api_settings
    assert old is conf.doubletoken_settings


def test_the_exception_handler_under_its_old_module():
    sys.modules.pop("django_doubletoken.exceptions", None)
    with pytest.warns(DeprecationWarning, match="exception_handler.exception_handler"):
        old = importlib.import_module("django_doubletoken.exceptions")
    from django_doubletoken.exception_handler import exception_handler

    assert old.exception_handler is exception_handler


def test_an_unknown_conf_attribute_is_still_an_attribute_error():
    from django_doubletoken import conf

    with pytest.raises(AttributeError):
        conf.no_such_name  # noqa: B018


def test_the_python_clients_token_pair_under_its_old_name():
    from django_doubletoken import client

    with pytest.warns(DeprecationWarning, match="StoredTokens"):
        old = client.TokenPair
    assert old is client.StoredTokens
