"""Device sessions in the Django admin: see every signed-in device, log one out, kick a user.

Every change goes through ``services``, so it reaches the cache at once: the affected tokens
are refused on their next request. Rows are read-only: staff never edit token state.

``changelist``  ``DeviceSessionAdmin`` (registered on import): columns, actions, log-out pages
``columns``     list filters and the cells the changelist and the inline share
``users``       the sessions inline on the user's page, and how it is attached

Every name stays importable from ``django_doubletoken.admin``.
"""

from .changelist import DeviceSessionAdmin
from .columns import (  # noqa: F401
    BindingFilter,
    SessionColumns,
    StatusFilter,
    _user_search_fields,
    compact_datetime,
    status_label,
    two_lines,
)
from .users import (
    DeviceSessionInline,
    UserSessionsAdminMixin,
    attach_to_user_admin,
    user_sessions_summary,
)

__all__ = [
    "BindingFilter", "DeviceSessionAdmin", "DeviceSessionInline", "SessionColumns",
    "StatusFilter", "UserSessionsAdminMixin", "attach_to_user_admin", "compact_datetime",
    "status_label", "two_lines", "user_sessions_summary",
]
