from io import StringIO

import pytest
from django.core.management import call_command

from django_doubletoken.models import DeviceSession


@pytest.mark.django_db
def test_migrations_are_committed():
    # Exits non-zero (SystemExit) when a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_example_project_settings_pass_the_checks():
    call_command("check", "--fail-level", "WARNING")


@pytest.mark.django_db
def test_ensure_demo_user_keeps_demo_sessions_across_restarts(settings, api):
    call_command("ensure_demo_user", stdout=StringIO())
    login = api.post("/api/auth/login/", {"username": settings.DEMO_USERNAME,
                                          "password": settings.DEMO_PASSWORD}, format="json")
    assert login.status_code == 200, login.content
    access = login.json()["access"]

    call_command("ensure_demo_user", stdout=StringIO())  # scripts/demo starting again

    me = api.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert me.status_code == 200, me.content
    assert DeviceSession.objects.get(pk=login.json()["session_id"]).revoked_at is None


@pytest.mark.django_db
def test_ensure_demo_user_restores_a_changed_demo_password(settings, django_user_model):
    call_command("ensure_demo_user", stdout=StringIO())
    demo = django_user_model.objects.get(username=settings.DEMO_USERNAME)
    demo.set_password("something else entirely")
    demo.save()
    call_command("ensure_demo_user", stdout=StringIO())
    demo.refresh_from_db()
    assert demo.check_password(settings.DEMO_PASSWORD)
    assert django_user_model.objects.get(username="admin").is_staff
