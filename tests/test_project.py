import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_migrations_are_committed():
    # Exits non-zero (SystemExit) when a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_example_project_settings_pass_the_checks():
    call_command("check", "--fail-level", "WARNING")
