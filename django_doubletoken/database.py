"""The database as the app sees it: down (a 503 the client retries) or behind the models (a
bug to fix: a 500 with its traceback, and a warning that names ``migrate``); and the cursor
of the app's two hot writes (``binding_cursor``).

Both reach the app as the same driver exceptions: SQLite reports a missing table as an
``OperationalError``, exactly like a locked or unreachable database. ``is_outage`` tells them
apart, and every face and service asks it, so that a forgotten ``migrate`` is never answered
"try again shortly".
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import InterfaceError, OperationalError, connections, router
from django.db.backends.utils import CursorWrapper
from django.utils.asyncio import async_unsafe

logger = logging.getLogger("django_doubletoken")

APP_LABEL = "django_doubletoken"
MIGRATE_HINT = "Run `python manage.py migrate`."
SCHEMA_NOTE = (
    "django_doubletoken: the database schema does not match the models (a table or column is "
    f"missing); are all migrations applied? {MIGRATE_HINT}"
)

# How each backend says "no such table / column", for errors that come as OperationalError.
_SQLITE_SCHEMA_MESSAGES = ("no such table", "no such column", "has no column named")
_MYSQL_SCHEMA_ERRNOS = {1054, 1146}  # unknown column, table doesn't exist
_ORACLE_SCHEMA_CODES = ("ORA-00942", "ORA-00904")  # table or view does not exist, bad column
# SQLSTATE class 42: syntax error or access rule violation (undefined table 42P01, undefined
# column 42703, insufficient privilege 42501): never cured by retrying.
_SQLSTATE_SCHEMA_CLASS = "42"


def is_schema_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the schema differs from what the query expects."""
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if isinstance(sqlstate, str):  # psycopg 3 / psycopg 2
        return sqlstate.startswith(_SQLSTATE_SCHEMA_CLASS)
    if exc.args and isinstance(exc.args[0], int):  # MySQL: (errno, message)
        return exc.args[0] in _MYSQL_SCHEMA_ERRNOS
    message = str(exc)
    return (any(text in message for text in _SQLITE_SCHEMA_MESSAGES)
            or message.startswith(_ORACLE_SCHEMA_CODES))


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot answer now (unreachable, locked, gone away,
    out of connections): a 503 the client retries. A schema error is not one."""
    return isinstance(exc, (OperationalError, InterfaceError)) and not is_schema_error(exc)


def note_schema_error(exc: BaseException) -> None:
    """Add the ``migrate`` hint to a schema error's traceback (logged, and shown under DEBUG)."""
    already = SCHEMA_NOTE in getattr(exc, "__notes__", ())
    if hasattr(exc, "add_note") and not already and is_schema_error(exc):  # add_note: 3.11+
        exc.add_note(SCHEMA_NOTE)


@async_unsafe
def binding_cursor(connection: Any) -> CursorWrapper:
    """``connection.cursor()``, binding its parameters on the server with psycopg 3.

    Django's default psycopg 3 cursor binds on the client: it quotes every value into the
    statement in Python, a third of the client's time for the wide INSERT of a login and the
    UPDATE of a refresh. A server-binding cursor sends the values beside the statement (the
    extended protocol's unnamed statement: no prepared statement is left on the server, so
    connection poolers work as before, unless the project opted in with
    ``prepare_threshold``). Wrapped as ``connection.cursor()`` wraps its own: query logging,
    the ``execute_wrapper`` hooks and Django's exception classes apply unchanged.
    """
    server_binding = _server_binding_cursor(connection)
    if server_binding is None:
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        connection.validate_thread_sharing()
        raw = server_binding(connection.connection)
        if connection.queries_logged:
            return connection.make_debug_cursor(raw)
        return connection.make_cursor(raw)


def _server_binding_cursor(connection: Any) -> type | None:
    if connection.vendor != "postgresql":
        return None
    from django.db.backends.postgresql import base

    return getattr(base, "ServerBindingCursor", None)  # absent with psycopg 2


# --- unapplied migrations ----------------------------------------------------------------


def migrations_database() -> str | None:
    """The alias of the database this app's tables live in; None when none may hold them."""
    from .models import DeviceSession

    alias = router.db_for_write(DeviceSession)
    return alias if router.allow_migrate_model(alias, DeviceSession) else None


def unapplied_migrations(alias: str) -> list[str] | None:
    """This app's migrations not applied on ``alias``, in order; None when that cannot be
    told (the database is unreachable or not configured: an outage, reported elsewhere)."""
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connections[alias])
        leaves = executor.loader.graph.leaf_nodes(APP_LABEL)
        plan = executor.migration_plan(leaves)
    except Exception:  # noqa: BLE001
        # Whatever keeps us from looking (an unreachable database, a test runner's database
        # blocker, a broken migration graph that `migrate` reports itself) must not stop
        # `check` or a server.
        logger.debug("could not list unapplied migrations", exc_info=True)
        return None
    return [migration.name for migration, backwards in plan
            if migration.app_label == APP_LABEL and not backwards]


def migrate_command(alias: str) -> str:
    return "python manage.py migrate" + ("" if alias == "default" else f" --database {alias}")


# Looked once per process: by the system checks (manage.py check, runserver) or at the first
# request served (gunicorn, uvicorn and daphne run no checks) — never a query per request.
_checked = threading.Event()
DISPATCH_UID = "doubletoken_migrations"


def checked_at_startup() -> None:
    """Record that the system checks looked already, so the first request does not again."""
    _checked.set()


def warn_if_unmigrated(sender: Any, **kwargs: Any) -> None:
    """``request_started`` receiver: warn once, at the first request a server handles, when
    this app's migrations are unapplied. It disconnects itself, so later requests pay
    nothing. The test client's requests are not a server starting and may be counting
    queries: they are skipped."""
    if getattr(sender, "__module__", "") == "django.test.client":
        return
    from django.core.signals import request_started

    # disconnect() is serialised by the signal's own lock: one thread gets True.
    if not request_started.disconnect(dispatch_uid=DISPATCH_UID) or _checked.is_set():
        return
    _checked.set()
    alias = migrations_database()
    if alias is None:
        return
    names = unapplied_migrations(alias)
    if names:
        from .checks.migrations import unapplied

        warning = unapplied(alias, names)
        logger.warning("%s (%s) %s", warning.msg, warning.id, warning.hint)
