"""Check of the database: this app's migrations are applied (a forgotten ``migrate`` is named
here, not discovered as a 500 at the first login)."""

from __future__ import annotations

from django.core.checks import Tags, register

from .. import database
from . import problem


@register(Tags.models, "django_doubletoken")
def check_migrations_applied(app_configs=None, databases=None, **kwargs) -> list:
    """At ``check`` and ``runserver``; gunicorn and uvicorn, which run no checks, log the same
    warning at their first request (``database.warn_if_unmigrated``).

    Unlike checks tagged "database" (run only by ``check --database``), it looks at plain
    ``check``, as runserver's own unapplied-migrations notice does. ``migrate`` and the test
    runner pass ``databases``: the one is about to apply them, the other just did.
    """
    if databases is not None:
        return []
    database.checked_at_startup()
    alias = database.migrations_database()
    names = database.unapplied_migrations(alias) if alias is not None else None
    return [unapplied(alias, names)] if names else []


def unapplied(alias: str, names: list[str]):
    return problem("W040", count=len(names), alias=alias, names=", ".join(names),
                   command=database.migrate_command(alias))
