"""The device-session changelist and pages: ``DeviceSessionAdmin``, registered on import.

Read-only rows; the log-out actions ("log out selected sessions", "log out these users
everywhere") and the two confirmation pages (one session, one user everywhere) call
``services``, so a change reaches the cache at once.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import services
from ..models import DeviceSession, RevokeReason
from .columns import (
    BindingFilter,
    SessionColumns,
    StatusFilter,
    _user_search_fields,
    compact_datetime,
    two_lines,
)


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
