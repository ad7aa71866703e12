"""Checks of the migration from djangorestframework-simplejwt (``SIMPLEJWT_MIGRATION``)."""

from __future__ import annotations

from django.core.checks import Tags, register
from django.utils import timezone

from ..services import simplejwt
from . import problem


@register(Tags.security, "django_doubletoken")
def check_simplejwt_migration(app_configs=None, **kwargs) -> list:
    """E040: the setting is malformed (end date, profile, label) or ``SIMPLE_JWT`` cannot
    verify simplejwt's refresh tokens (missing key, algorithm, token type claim); W041: the
    migration has ended and can be removed."""
    try:
        plan = simplejwt.migration()
        if plan is not None:
            simplejwt.verifying_key(simplejwt.simple_jwt_settings())
    except simplejwt.MigrationSettingError as exc:
        text = str(exc)
        where = "" if text.startswith("SIMPLE_JWT") else "DOUBLETOKEN['SIMPLEJWT_MIGRATION'] "
        return [problem("E040", error=where + text)]
    if plan is not None and plan.until <= timezone.now():
        return [problem("W041", until=plan.until.isoformat())]
    return []
