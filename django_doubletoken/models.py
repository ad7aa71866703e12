"""One row per signed-in device: the source of truth for every session decision."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RevokeReason(models.TextChoices):
    LOGOUT = "logout", _("Logged out")
    LOGOUT_ALL = "logout_all", _("Logged out everywhere")
    REMOVED_BY_USER = "removed_by_user", _("Removed from the device list")
    REFRESH_REUSED = "refresh_reused", _("Refresh token reused")
    ADMIN = "admin", _("Logged out by staff")
    ADMIN_KICK = "admin_kick", _("User kicked by staff")
    PASSWORD_CHANGED = "password_changed", _("Password changed")
    USER_DEACTIVATED = "user_deactivated", _("User deactivated")
    USER_DELETED = "user_deleted", _("User deleted")
    SESSION_LIMIT = "session_limit", _("Session limit reached")


class DeviceSessionQuerySet(models.QuerySet):
    """What "active", "expired" and "purgeable" mean, for every query that needs them."""

    def active(self, now: datetime | None = None) -> DeviceSessionQuerySet:
        now = now or timezone.now()
        return self.filter(
            revoked_at__isnull=True, refresh_expires_at__gt=now, absolute_expires_at__gt=now
        )

    def expired(self, now: datetime | None = None) -> DeviceSessionQuerySet:
        """Not revoked, but past its refresh or absolute expiry at ``now``."""
        return self.filter(_expired_by(now or timezone.now()))

    def purgeable(
        self, *, expired_before: datetime, revoked_before: datetime
    ) -> DeviceSessionQuerySet:
        """Sessions expired by ``expired_before`` or revoked before ``revoked_before``; a
        revoked session is kept until then (for audit) even if it has also expired."""
        return self.filter(_expired_by(expired_before) | Q(revoked_at__lt=revoked_before))


def _expired_by(moment: datetime) -> Q:
    return Q(revoked_at__isnull=True) & (
        Q(refresh_expires_at__lte=moment) | Q(absolute_expires_at__lte=moment)
    )


class DeviceSession(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="device_sessions",
        verbose_name=_("user"),
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

    objects = DeviceSessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("device session")
        verbose_name_plural = _("device sessions")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="doubletoken_user_created"),
            models.Index(
                fields=["refresh_expires_at"],
                condition=Q(revoked_at__isnull=True),
                name="doubletoken_active",
            ),
        ]

    def __str__(self) -> str:
        label = self.device or self.client
        return f"{self.user} · {label} · {self.created_at:%Y-%m-%d %H:%M}"

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
