"""simplejwt's tokens as the migration reads them (``SIMPLEJWT_MIGRATION``): the setting
itself, the project's ``SIMPLE_JWT`` over simplejwt's defaults, and verifying a token as
simplejwt would, with PyJWT (simplejwt imports DRF, which the core may not).

``is_access_token`` serves authentication (a simplejwt access token is ``token_expired``, not
``token_invalid``, while the migration runs); the exchange itself is in ``simplejwt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..conf import doubletoken_settings
from ..errors import SESSION_EXPIRED, TokenError
from ..keys import algorithm_available

REFRESH_TYPE = "refresh"  # simplejwt's RefreshToken.token_type
ACCESS_TYPE = "access"
MIGRATION_KEYS = {"UNTIL", "CLIENT", "DEVICE"}
# simplejwt's defaults for the settings that say how its refresh tokens are signed and read.
SIMPLE_JWT_DEFAULTS: dict[str, Any] = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": None,  # settings.SECRET_KEY
    "VERIFYING_KEY": "",
    "AUDIENCE": None,
    "ISSUER": None,
    "LEEWAY": 0,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
    "CHECK_REVOKE_TOKEN": False,
    "REVOKE_TOKEN_CLAIM": "hash_password",
}


class MigrationSettingError(ImproperlyConfigured):
    """``SIMPLEJWT_MIGRATION`` or ``SIMPLE_JWT`` cannot be used; the message says why."""


@dataclass(frozen=True)
class Migration:
    until: datetime
    client: str
    device: str


def migration() -> Migration | None:
    """The configured migration; None when off. ``MigrationSettingError`` when malformed
    (system check E040 reports it at startup)."""
    value = doubletoken_settings.SIMPLEJWT_MIGRATION
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MigrationSettingError(
            "must be None or a dict such as {'UNTIL': '2027-06-30T00:00:00Z'}.")
    unknown = set(value) - MIGRATION_KEYS
    if unknown:
        raise MigrationSettingError(f"has unknown keys {sorted(unknown)}.")
    client = value.get("CLIENT", doubletoken_settings.DEFAULT_CLIENT)
    if client not in doubletoken_settings.CLIENT_PROFILES:
        raise MigrationSettingError(f"CLIENT {client!r} is not in CLIENT_PROFILES.")
    device = value.get("DEVICE", "")
    if not isinstance(device, str) or len(device) > 200:
        raise MigrationSettingError("DEVICE must be a string of at most 200 characters.")
    return Migration(until=_end_date(value.get("UNTIL")), client=client, device=device)


def _end_date(value: Any) -> datetime:
    until = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(until, datetime) or until.utcoffset() is None:
        raise MigrationSettingError(
            "UNTIL must be the end of the migration as a timezone-aware datetime or an ISO "
            f"8601 string with its offset, e.g. '2027-06-30T00:00:00Z'; got {value!r}."
        )
    return until


def simple_jwt_settings() -> dict[str, Any]:
    """The project's ``SIMPLE_JWT`` over simplejwt's defaults (only what reading tokens needs)."""
    merged = {**SIMPLE_JWT_DEFAULTS, **(getattr(settings, "SIMPLE_JWT", None) or {})}
    if merged["SIGNING_KEY"] is None:
        merged["SIGNING_KEY"] = settings.SECRET_KEY
    return merged


def verifying_key(config: dict[str, Any]) -> Any:
    """The key simplejwt verifies with: the signing key for HMAC, else VERIFYING_KEY.
    ``MigrationSettingError`` when that key is missing or the algorithm is not usable."""
    algorithm = config["ALGORITHM"]
    if not algorithm_available(algorithm):
        raise MigrationSettingError(
            f"SIMPLE_JWT['ALGORITHM'] {algorithm!r} is not an algorithm PyJWT can verify with "
            "here (a name such as 'HS256' or 'RS256'; never 'none').")
    name = "SIGNING_KEY" if algorithm.startswith("HS") else "VERIFYING_KEY"
    if not config[name]:
        raise MigrationSettingError(
            f"SIMPLE_JWT[{name!r}] is empty: simplejwt's refresh tokens cannot be verified.")
    if not config["TOKEN_TYPE_CLAIM"]:
        raise MigrationSettingError(
            "SIMPLE_JWT['TOKEN_TYPE_CLAIM'] is None: a refresh token cannot be told from an "
            "access token.")
    return config[name]


def is_access_token(raw: str) -> bool:
    """Whether ``raw`` is a genuine simplejwt access token (expired or not) while the
    migration runs. Authentication then answers ``token_expired``, not ``token_invalid``:
    the client refreshes with its simplejwt refresh token, which ``exchange`` takes, instead
    of logging the user out."""
    plan = migration()
    if plan is None or timezone.now() >= plan.until:
        return False
    config = simple_jwt_settings()
    payload = _verified(raw, config, check_expiry=False)
    return payload is not None and payload[config["TOKEN_TYPE_CLAIM"]] == ACCESS_TYPE


def _verified(raw: str, config: dict[str, Any], *, check_expiry: bool) -> dict[str, Any] | None:
    """The claims of a genuine simplejwt token (of any type), or None when ``raw`` is not
    one. ``MigrationSettingError`` (check E040) when ``SIMPLE_JWT`` cannot verify any."""
    key = verifying_key(config)
    required = ["exp", config["JTI_CLAIM"], config["TOKEN_TYPE_CLAIM"], config["USER_ID_CLAIM"]]
    try:
        payload = jwt.decode(
            raw, key, algorithms=[config["ALGORITHM"]], audience=config["AUDIENCE"],
            issuer=config["ISSUER"], leeway=config["LEEWAY"],
            options={"verify_aud": config["AUDIENCE"] is not None, "require": required,
                     "verify_exp": check_expiry},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError(SESSION_EXPIRED) from None
    except (jwt.InvalidTokenError, TypeError, ValueError):
        return None
    return payload
