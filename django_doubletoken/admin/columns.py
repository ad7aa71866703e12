"""What the device-session admin shows: its list filters and the cells of its columns.

``StatusFilter`` (active / expired / revoked, through the QuerySet's own definitions) and
``BindingFilter`` (DPoP-bound or bearer); ``SessionColumns``, the columns the changelist and the
user-page inline share; and the small HTML renderers that keep every changelist cell at most two
lines (``compact_datetime``, ``two_lines``).
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin
from django.contrib.admin.utils import display_for_value
from django.contrib.auth import get_user_model
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import DeviceSession


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
