from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DoubleTokenConfig(AppConfig):
    name = "django_doubletoken"
    verbose_name = _("Double-token authentication")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
