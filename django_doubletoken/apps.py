from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DoubleTokenConfig(AppConfig):
    name = "django_doubletoken"
    verbose_name = _("Double-token authentication")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_started

        from . import checks, receivers  # noqa: F401  (register checks and receivers)
        from .database import DISPATCH_UID, warn_if_unmigrated

        # Servers that run no system checks (gunicorn, uvicorn) still warn of unapplied
        # migrations, once, at their first request: the receiver then disconnects itself.
        request_started.connect(warn_if_unmigrated, dispatch_uid=DISPATCH_UID)

        try:
            import drf_spectacular  # noqa: F401
        except ImportError:
            pass  # schema support is optional
        else:
            from . import openapi  # noqa: F401  (its extensions register on import)

        try:
            import channels  # noqa: F401
        except ImportError:
            pass  # WebSocket support is optional
        else:
            from .live_revocation import close_sockets_of_revoked_session
            from .signals import session_revoked

            session_revoked.connect(close_sockets_of_revoked_session,
                                    dispatch_uid="doubletoken_close_sockets")

        if self.apps.is_installed("django.contrib.admin"):
            from .admin import attach_to_user_admin

            # Admin modules were imported by the admin app's ready(), which runs first when
            # "django.contrib.admin" is listed above this app (check W004 tells otherwise).
            attach_to_user_admin()
