"""How a signed-in user proves again who they are (``reauthenticate/``): the password, through
``django.contrib.auth.authenticate()`` as login checks it, or a method the project registers
(a TOTP code, a WebAuthn assertion) in ``REAUTHENTICATION_METHODS``::

    DOUBLETOKEN = {"REAUTHENTICATION_METHODS": {
        "totp": {"VERIFY": "accounts.mfa.verify_totp", "ACR": "mfa", "AMR": ["otp"]},
    }}

A verifier is called as ``verify(request, user, data)``: the Django request, the session's
user (loaded), and the request body (a mapping, ``data["method"]`` its name); it returns True
when the proof holds, or raises Django's ``ValidationError`` for a body it cannot read (a 400
with those messages). Each method names the ``acr`` and ``amr`` a success records on the
session (and so in its tokens). The password is the method ``"password"``, the default when
the body names none: ``acr`` ``PASSWORD_ACR``, ``amr`` ``["pwd"]`` (RFC 8176).

Core: no HTTP framework (the body's rules are ``endpoints.fields``'). Verification only: the
state change (a new pair on the same session) is
``services.reauthenticate``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils.module_loading import import_string

from .conf import derived_from_settings, doubletoken_settings
from .stepup import is_acr_value
from .tokens import SessionContext

PASSWORD = "password"
PASSWORD_AMR = ("pwd",)

Verifier = Callable[[HttpRequest, Any, Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Method:
    name: str
    verify: Verifier
    acr: str
    amr: tuple[str, ...]


def login_context(validated: Mapping[str, Any]) -> SessionContext:
    """How a ``login/`` authenticated its user, from the login serializer's
    ``validated_data``: ``acr`` and ``amr`` when the serializer says (a login by one-time
    code: ``amr`` ``["otp"]``), else a password's (``PASSWORD_ACR``, ``["pwd"]``)."""
    return SessionContext(acr=validated.get("acr", doubletoken_settings.PASSWORD_ACR),
                          amr=tuple(validated.get("amr", PASSWORD_AMR)))


def verify_password(request: HttpRequest, user: Any, data: Mapping[str, Any]) -> bool:
    """The password through ``authenticate()``, as login checks it: every backend, lockout
    apps, and ``user_login_failed`` (sent by Django) when it is wrong. It must be this user's,
    and the user active. (``reauthenticate/`` has checked the field: ``endpoints.fields``.)"""
    password = data.get("password")
    if not isinstance(password, str):
        return False
    found = authenticate(request, username=user.get_username(), password=password)
    return found is not None and found.pk == user.pk and found.is_active


def _method(name: str, config: Any) -> Method:
    source = f"DOUBLETOKEN['REAUTHENTICATION_METHODS'][{name!r}]"
    if not isinstance(config, Mapping) or not {"VERIFY", "ACR", "AMR"} <= set(config):
        raise ImproperlyConfigured(f"{source} must be a dict with VERIFY, ACR and AMR.")
    verify = config["VERIFY"]
    if isinstance(verify, str):
        try:
            verify = import_string(verify)
        except ImportError as exc:
            raise ImproperlyConfigured(f"{source}: VERIFY cannot be imported: {exc}") from exc
    amr = config["AMR"]
    if (not callable(verify) or not is_acr_value(config["ACR"]) or isinstance(amr, str)
            or not isinstance(amr, (list, tuple))
            or not all(isinstance(value, str) for value in amr)):
        raise ImproperlyConfigured(f"{source}: VERIFY is a function (or its dotted path), ACR "
                                   "an acr (no spaces or quotes), AMR a list of strings.")
    return Method(name, verify, config["ACR"], tuple(amr))


@derived_from_settings
def methods() -> dict[str, Method]:
    """Every method by name: the password, then the project's."""
    found = {PASSWORD: Method(PASSWORD, verify_password, doubletoken_settings.PASSWORD_ACR,
                              PASSWORD_AMR)}
    configured = doubletoken_settings.REAUTHENTICATION_METHODS
    configured = {} if configured is None else configured
    if not isinstance(configured, Mapping):
        raise ImproperlyConfigured("REAUTHENTICATION_METHODS must be a dict of methods by name.")
    for name, config in configured.items():
        if name == PASSWORD:
            raise ImproperlyConfigured("REAUTHENTICATION_METHODS cannot redefine 'password'.")
        found[name] = _method(name, config)
    return found


def verify(method: Method, request: HttpRequest, user: Any, data: Mapping[str, Any]) -> bool:
    """Run ``method``'s verifier. A project's verifier that says no sends
    ``user_login_failed`` as a wrong password does (``authenticate()`` sends that one), so
    lockout apps count every failed proof. A verifier's ``ValidationError`` goes through (the
    endpoint answers it with a 400)."""
    if not user.is_active:
        return False
    if method.verify(request, user, data):
        return True
    if method.name != PASSWORD:
        user_login_failed.send(sender=__name__, request=request, credentials={
            "username": user.get_username(), "method": method.name})
    return False
