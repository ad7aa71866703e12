"""One row per signed-in device: the source of truth for every session decision.

The models and their fields only; how their rows are queried and bulk-written (the QuerySet,
its raw SQL, the purge's walks) lives in ``querysets``, re-exported here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .querysets import (  # noqa: F401 (importable from here as before)
    _INSERT_SQL,
    _ROTATION_SQL,
    EXPIRES_AT,
    SAME_PREPARATION_FIELDS,
    DeviceSessionQuerySet,
    PurgeWalk,
    _expired_by,
    _insert_sql,
    _rotation_sql,
)
from .tokens import SessionContext


class RevokeReason(models.TextChoices):
    LOGOUT = "logout", _("Logged out")
    LOGOUT_ALL = "logout_all", _("Logged out everywhere")
    LOGOUT_OTHERS = "logout_others", _("Logged out from another device")
    REMOVED_BY_USER = "removed_by_user", _("Removed from the device list")
    REFRESH_REUSED = "refresh_reused", _("Refresh token reused")
    ADMIN = "admin", _("Logged out by staff")
    ADMIN_KICK = "admin_kick", _("User kicked by staff")
    PASSWORD_CHANGED = "password_changed", _("Password changed")
    USER_DEACTIVATED = "user_deactivated", _("User deactivated")
    USER_DELETED = "user_deleted", _("User deleted")
    SESSION_LIMIT = "session_limit", _("Session limit reached")


class DeviceSession(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: doubletoken_user_created, (user, -created_at), serves every lookup
    # by user, and one index fewer is one write fewer per login and per refresh.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="device_sessions",
        verbose_name=_("user"),
        db_index=False,
    )
    client = models.CharField(_("client profile"), max_length=32)
    device = models.CharField(_("device"), max_length=200, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), default=timezone.now)
    refresh_generation = models.PositiveIntegerField(_("refresh generation"), default=0)
    rotated_at = models.DateTimeField(_("last rotated"), null=True, blank=True)
    refresh_expires_at = models.DateTimeField(_("refresh expires"))
    absolute_expires_at = models.DateTimeField(_("absolute expiry"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoke_reason = models.CharField(
        _("revoke reason"), max_length=32, choices=RevokeReason.choices, blank=True
    )
    # The session's tokens.SessionContext: its DPoP key, when and how the user last
    # authenticated on this device. Every token of the session carries a copy. Database
    # defaults, so that rows written by code that predates them (a rolling deploy, a bulk
    # load) are valid too.
    dpop_jkt = models.CharField(
        _("DPoP key thumbprint"), max_length=64, blank=True, default="", db_default="",
        help_text=_("RFC 7638 thumbprint of the key this session's tokens are bound to."),
    )
    auth_time = models.DateTimeField(_("last authenticated"), null=True, blank=True)
    acr = models.CharField(_("authentication context"), max_length=100, blank=True, default="",
                           db_default="")
    amr = models.CharField(
        _("authentication methods"), max_length=200, blank=True, default="", db_default="",
        help_text=_("Space-separated, e.g. \"pwd otp\"."),
    )

    objects = DeviceSessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("device session")
        verbose_name_plural = _("device sessions")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="doubletoken_user_created"),
            # Purging expired rows (purge_walks) and the admin's "expired" filter.
            models.Index(
                EXPIRES_AT, F("id"),
                condition=Q(revoked_at__isnull=True),
                name="doubletoken_expiry",
            ),
            # Purging revoked rows and the admin's "revoked" filter.
            models.Index(
                fields=["revoked_at", "id"],
                condition=Q(revoked_at__isnull=False),
                name="doubletoken_revoked",
            ),
            # The admin changelist: newest first (created_at, then id to break ties).
            models.Index(fields=["-created_at", "-id"], name="doubletoken_created"),
        ]

    def __str__(self) -> str:
        label = self.device or self.client
        return f"{self.user} · {label} · {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def context(self) -> SessionContext:
        return SessionContext(
            jkt=self.dpop_jkt,
            auth_time=None if self.auth_time is None else int(self.auth_time.timestamp()),
            acr=self.acr,
            amr=tuple(self.amr.split()),
        )

    @context.setter
    def context(self, context: SessionContext) -> None:
        self.dpop_jkt = context.jkt
        self.auth_time = (None if context.auth_time is None
                          else datetime.fromtimestamp(context.auth_time, tz=dt_timezone.utc))
        self.acr = context.acr
        self.amr = " ".join(context.amr)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def expires_at(self):
        return min(self.refresh_expires_at, self.absolute_expires_at)

    def is_expired(self, now: datetime | None = None) -> bool:
        """The row's side of ``DeviceSessionQuerySet.expired()``."""
        return not self.is_revoked and (now or timezone.now()) >= self.expires_at

    def is_active(self, now: datetime | None = None) -> bool:
        return not self.is_revoked and not self.is_expired(now)

    @property
    def status(self) -> str:
        if self.is_revoked:
            return "revoked"
        return "expired" if self.is_expired() else "active"


class SimpleJWTExchange(models.Model):
    """A djangorestframework-simplejwt refresh token exchanged for a device session
    (``SIMPLEJWT_MIGRATION``). The unique ``jti`` is what makes the exchange happen once; the
    row outlives its session (purged sessions leave ``session`` empty) so that the token
    stays spent. Rows whose ``token_expires_at`` has passed may be deleted."""

    jti = models.CharField(_("simplejwt token id"), max_length=255, unique=True)
    session = models.ForeignKey(
        DeviceSession,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("device session"),
    )
    exchanged_at = models.DateTimeField(_("exchanged"), default=timezone.now)
    # db_index: the purge walks the expired rows in this order.
    token_expires_at = models.DateTimeField(_("simplejwt token expires"), db_index=True)

    class Meta:
        verbose_name = _("exchanged simplejwt token")
        verbose_name_plural = _("exchanged simplejwt tokens")

    def __str__(self) -> str:
        return self.jti
