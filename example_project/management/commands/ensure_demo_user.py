from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the demo user and a staff user for the admin, or give them back the demo "
        "password if it was changed. An unchanged password is left alone: setting it again "
        "counts as a password change, which logs the user out of every device."
    )

    def handle(self, *args, **options) -> None:
        users = get_user_model()._default_manager
        demo, _ = users.get_or_create(username=settings.DEMO_USERNAME)
        self._ensure_password(demo)
        admin, _ = users.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        self._ensure_password(admin)
        self.stdout.write(
            f"Demo user: {settings.DEMO_USERNAME} / {settings.DEMO_PASSWORD}   "
            f"Admin (/admin/): admin / {settings.DEMO_PASSWORD}"
        )

    def _ensure_password(self, user) -> None:
        if not user.check_password(settings.DEMO_PASSWORD):
            user.set_password(settings.DEMO_PASSWORD)
            user.save(update_fields=["password"])
