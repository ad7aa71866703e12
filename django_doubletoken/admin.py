"""Device sessions in the Django admin: see every signed-in device, log one out, kick a user.

Every change goes through ``services``, so it reaches the cache at once: the affected tokens
are refused on their next request. Rows are read-only: staff never edit token state.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_value, unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import DeviceSession, RevokeReason


class StatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", _("Active")), ("expired", _("Expired")), ("revoked", _("Revoked"))]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.active()
        if self.value() == "expired":
            return queryset.expired()
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


class BindingFilter(admin.SimpleListFilter):
    """Sessions bound to a DPoP key (their tokens useless without it) or plain bearer ones."""

    title = _("DPoP key")
    parameter_name = "dpop"

    def lookups(self, request, model_admin):
        return [("bound", _("Bound")), ("unbound", _("Unbound"))]

    def queryset(self, request, queryset):
        if self.value() in ("bound", "unbound"):
            return queryset.exclude(dpop_jkt="") if self.value() == "bound" else (
                queryset.filter(dpop_jkt=""))
        return queryset


def _user_search_fields() -> tuple[str, ...]:
    user_model = get_user_model()
    fields = [f"user__{user_model.USERNAME_FIELD}"]
    email = user_model.get_email_field_name()
    if email != user_model.USERNAME_FIELD and any(
        f.name == email for f in user_model._meta.get_fields()
    ):
        fields.append(f"user__{email}")
    return tuple(fields)


def status_label(session: DeviceSession) -> str:
    if session.is_revoked:
        return f"{_('revoked')} ({session.get_revoke_reason_display() or _('unknown')})"
    return str(_("active")) if session.is_active() else str(_("expired"))


class SessionColumns:
    """Columns shared by the changelist and the user-page inline."""

    @admin.display(description=_("expires"))
    def expires_at(self, session: DeviceSession) -> str:
        # Formatted here: a readonly inline field shows a callable's value with str().
        return display_for_value(session.expires_at, self.get_empty_value_display())

    @admin.display(description=_("status"))
    def status(self, session: DeviceSession) -> str:
        return status_label(session)


def compact_datetime(value: datetime | None, empty: str) -> str:
    """A date in two short lines — day and month, then the time (or, in another year, the
    year) — with the full local timestamp on hover: what fits a narrow changelist column."""
    if value is None:
        return empty
    local = timezone.localtime(value)
    second = (formats.time_format(local, "H:i") if local.year == timezone.localtime().year
              else str(local.year))
    return format_html('<time class="dt-compact" datetime="{}" title="{}">{}<br>{}</time>',
                       local.isoformat(), formats.date_format(local, "DATETIME_FORMAT"),
                       formats.date_format(local, "j M"), second)


def two_lines(first: str, second: str, *, title: str = "") -> str:
    """A cell of one line of text and a quieter second one, each cut with an ellipsis to the
    column's width (the whole text on hover)."""
    return format_html('<span class="dt-line" title="{}">{}</span>'
                       '<span class="dt-line dt-quiet" title="{}">{}</span>',
                       title or first, first, second, second)


@admin.register(DeviceSession)
class DeviceSessionAdmin(SessionColumns, admin.ModelAdmin):
    # What fits between the admin's sidebar and the filters at 1280 px, with 40-character
    # e-mail addresses (broken at the "@"), long device labels and IPv6 addresses: every cell
    # is at most two lines (admin/django_doubletoken/changelist.css). The client profile is
    # a filter; the user agent, the creation time and the token details are on each
    # session's own page.
    list_display = ("user_label", "device_label", "last_used", "expires", "status_label")
    list_filter = (StatusFilter, "client", BindingFilter, "revoke_reason", "created_at",
                   "last_used_at")
    search_fields = (*_user_search_fields(), "=ip", "device", "user_agent")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    actions = ("log_out_sessions", "log_out_users_everywhere")
    fields = ("id", "user", "client", "device", "user_agent", "ip", "created_at", "last_used_at",
              "auth_time", "acr", "amr",
              "refresh_generation", "rotated_at", "refresh_expires_at", "absolute_expires_at",
              "revoked_at", "revoke_reason", "dpop_jkt")
    readonly_fields = fields

    class Media:
        css = {"all": ["django_doubletoken/admin/changelist.css"]}

    @admin.display(description=_("user"), ordering="user")
    def user_label(self, session: DeviceSession) -> str:
        name = str(session.user)
        local, at, domain = name.rpartition("@")
        if not at:
            return format_html('<span class="dt-user" title="{}"><span>{}</span></span>',
                               name, name)
        # An address breaks at its "@" only: the local part on one line, the domain below.
        return format_html('<span class="dt-user" title="{}"><span>{}</span><wbr>'
                           '<span>@{}</span></span>', name, local, domain)

    @admin.display(description=_("device · IP address"), ordering="device")
    def device_label(self, session: DeviceSession) -> str:
        empty = self.get_empty_value_display()
        return two_lines(Truncator(session.device).chars(40) or empty, session.ip or empty,
                         title=session.device)

    @admin.display(description=_("last used"), ordering="last_used_at")
    def last_used(self, session: DeviceSession) -> str:
        return compact_datetime(session.last_used_at, self.get_empty_value_display())

    @admin.display(description=_("expires"))
    def expires(self, session: DeviceSession) -> str:
        return compact_datetime(session.expires_at, self.get_empty_value_display())

    @admin.display(description=_("status"))
    def status_label(self, session: DeviceSession) -> str:
        if not session.is_revoked:
            return str(_("active")) if session.is_active() else str(_("expired"))
        reason = session.get_revoke_reason_display() or _("unknown")
        return two_lines(str(_("revoked")), str(reason))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # A row is never edited, so its page is view-only (no Save buttons, POSTs refused).
        # The model-level permission (obj None) is what the log-out actions and views need.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Deleting a row would skip the cache; log the session out instead (and let
        # the purge_device_sessions command clean old rows).
        return False

    @admin.action(description=_("Log out selected sessions"), permissions=["change"])
    def log_out_sessions(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = services.revoke_sessions(queryset, RevokeReason.ADMIN)
        self.message_user(
            request,
            ngettext("%(count)d session was logged out.", "%(count)d sessions were logged out.",
                     count) % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Log out these users everywhere"), permissions=["change"])
    def log_out_users_everywhere(self, request: HttpRequest, queryset: QuerySet) -> None:
        user_ids = set(queryset.values_list("user_id", flat=True))
        count = services.revoke_sessions(
            DeviceSession.objects.filter(user_id__in=user_ids), RevokeReason.ADMIN_KICK
        )
        users = ngettext("%(count)d user", "%(count)d users", len(user_ids)) % {
            "count": len(user_ids)
        }
        sessions = ngettext("%(count)d session revoked", "%(count)d sessions revoked",
                            count) % {"count": count}
        self.message_user(
            request,
            _("%(users)s logged out everywhere: %(sessions)s.")
            % {"users": users, "sessions": sessions},
            messages.SUCCESS,
        )

    def get_urls(self):
        kick = self.admin_site.admin_view(self.log_out_user_view)
        log_out = self.admin_site.admin_view(self.log_out_session_view)
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("log-out-user/<path:user_id>/", kick, name=f"{prefix}_log_out_user"),
            path("<path:object_id>/log-out/", log_out, name=f"{prefix}_log_out_session"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}),
                         "can_log_out_session": self.has_change_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def log_out_session_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Confirm, then log this one session out (the button on the session's page)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        session = self.get_object(request, unquote(object_id))
        if session is None:
            raise Http404
        change_url = reverse(f"{self.admin_site.name}:{self.opts.app_label}_"
                             f"{self.opts.model_name}_change", args=[session.pk])
        if request.method == "POST":
            if services.revoke_sessions(DeviceSession.objects.filter(pk=session.pk),
                                        RevokeReason.ADMIN):
                self.message_user(request, _("%(session)s was logged out.")
                                  % {"session": session}, messages.SUCCESS)
            else:
                self.message_user(request, _("%(session)s was already logged out.")
                                  % {"session": session}, messages.WARNING)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Log this session out?"),
            "session": session,
            "change_url": change_url,
            "opts": self.opts,
        }
        return TemplateResponse(request, "django_doubletoken/admin/log_out_session.html",
                                context)

    def log_out_user_view(self, request: HttpRequest, user_id: str) -> HttpResponse:
        """Confirm, then log one user out of every device (linked from the user's page)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        user_model = get_user_model()
        try:
            pk = user_model._meta.pk.to_python(user_id)
        except ValidationError as exc:
            raise Http404 from exc
        user = get_object_or_404(user_model, pk=pk)
        active = DeviceSession.objects.active().filter(user=user)
        if request.method == "POST":
            count = services.revoke_user_sessions(user, RevokeReason.ADMIN_KICK)
            self.message_user(
                request,
                ngettext("%(user)s was logged out of %(count)d session.",
                         "%(user)s was logged out of %(count)d sessions.", count)
                % {"user": user, "count": count},
                messages.SUCCESS,
            )
            opts = user_model._meta
            return HttpResponseRedirect(
                reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change",
                        args=[user.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Log %(user)s out everywhere?") % {"user": user},
            "target_user": user,
            "active_sessions": active.order_by("-last_used_at"),
            "opts": self.opts,
        }
        return TemplateResponse(request, "django_doubletoken/admin/log_out_user.html", context)


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
