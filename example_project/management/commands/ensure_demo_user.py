from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create (or reset the password of) the demo user and a staff user for the admin."

    def handle(self, *args, **options) -> None:
        users = get_user_model()._default_manager
        demo, _ = users.get_or_create(username=settings.DEMO_USERNAME)
        demo.set_password(settings.DEMO_PASSWORD)
        demo.save()
        admin, _ = users.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        admin.set_password(settings.DEMO_PASSWORD)
        admin.save()
        self.stdout.write(
            f"Demo user: {settings.DEMO_USERNAME} / {settings.DEMO_PASSWORD}   "
            f"Admin (/admin/): admin / {settings.DEMO_PASSWORD}"
        )
