"""Device sessions on the user's admin page: the inline, its summary line and how it gets there.

``attach_to_user_admin`` (called from the app's ``ready()``) adds ``DeviceSessionInline`` to the
registered UserAdmin; ``UserSessionsAdminMixin`` does it for one the attachment cannot see;
``user_sessions_summary`` renders the counts and links under the inline (template tag
``doubletoken_admin``).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..models import DeviceSession
from .columns import SessionColumns


class DeviceSessionInline(SessionColumns, admin.TabularInline):
    """The user's active sessions on their admin page, with counts and a log-out-everywhere
    link. Added to the registered UserAdmin automatically (see ``attach_to_user_admin``)."""

    model = DeviceSession
    fk_name = "user"
    template = "django_doubletoken/admin/sessions_inline.html"
    # auth_time: when the user last proved who they are on that device (login or
    # re-authentication), what step-up guards compare.
    fields = ("device", "client", "ip", "created_at", "last_used_at", "auth_time", "expires_at",
              "status")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("active device sessions")

    def get_queryset(self, request):
        return super().get_queryset(request).active().order_by("-last_used_at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class UserSessionsAdminMixin:
    """For a UserAdmin registered where the automatic attachment cannot see it (another
    admin site, or registered after this app's ``ready()``): ``class MyUserAdmin(
    UserSessionsAdminMixin, UserAdmin)``."""

    def get_inlines(self, request, obj):
        inlines = list(super().get_inlines(request, obj))
        if obj is not None and DeviceSessionInline not in inlines:
            inlines.append(DeviceSessionInline)
        return inlines


def attach_to_user_admin(site: admin.AdminSite = admin.site) -> bool:
    """Show device sessions on the user's page of ``site``; True if a UserAdmin was found."""
    user_admin = site._registry.get(get_user_model())
    if user_admin is None:
        return False
    if isinstance(user_admin, UserSessionsAdminMixin):
        return True
    if DeviceSessionInline not in user_admin.inlines:
        user_admin.inlines = [*user_admin.inlines, DeviceSessionInline]
    return True


def user_sessions_summary(user) -> str:
    """Counts and links under the inline: all sessions, log out everywhere."""
    prefix = f"admin:{DeviceSession._meta.app_label}_{DeviceSession._meta.model_name}"
    changelist = reverse(f"{prefix}_changelist")
    kick = reverse(f"{prefix}_log_out_user", args=[user.pk])
    sessions = DeviceSession.objects.filter(user=user)
    return format_html(
        '{} · <a href="{}?user__{}__exact={}">{}</a> · <a class="deletelink" href="{}">{}</a>',
        ngettext("%(count)d active session", "%(count)d active sessions",
                 (active := sessions.active().count())) % {"count": active},
        changelist, get_user_model()._meta.pk.name, user.pk,
        _("all %(count)d sessions") % {"count": sessions.count()},
        kick, _("Log out everywhere"),
    )
