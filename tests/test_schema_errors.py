"""A forgotten ``migrate`` is named, not reported as an outage (issue 24 §4).

An unreachable or locked database is a 503 ``database_unavailable`` the client retries
(tests/test_faults.py); a missing table is a bug in the deployment: Django's 500, logged with
its traceback (shown under DEBUG), and a warning naming ``python manage.py migrate`` at
``check``, at runserver and at the first request of gunicorn/uvicorn.
"""

import os
import subprocess
import sys
import threading
from contextlib import contextmanager

import pytest
import requests
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started
from django.db import connection
from django.test import Client

from django_doubletoken import database
from django_doubletoken.models import DeviceSession

from .helpers import bearer
from .servers import ROOT, app_server

TABLE = DeviceSession._meta.db_table
HIDDEN = "doubletoken_hidden_for_test"


@contextmanager
def table_missing():
    """This app's table gone, as before its migration ran; put back afterwards."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {HIDDEN}")
    try:
        yield
    finally:
        connection.close()  # PostgreSQL: a failed statement may have left it unusable
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {HIDDEN} RENAME TO {TABLE}")


def _server_error(caplog):
    """The exception Django's 500 path logged (logger django.request, with its traceback)."""
    records = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    assert records, "no 500 was logged"
    return records[-1].exc_info[1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("auth", ["/api/auth/", "/api/ninja/auth/"])
def test_a_missing_table_is_a_logged_500_not_database_unavailable(auth, user, password, login,
                                                                   caplog):
    pair = login()
    http = Client(raise_request_exception=False)
    with table_missing():
        for path, body in (("login/", {"username": "alice", "password": password}),
                           ("refresh/", {"refresh": pair["refresh"]})):
            caplog.clear()
            response = http.post(f"{auth}{path}", body, content_type="application/json")
            assert response.status_code == 500, (path, response.content[:300])
            error = _server_error(caplog)
            assert database.is_schema_error(error)
            assert "python manage.py migrate" in "".join(getattr(error, "__notes__", []))
        listing = http.get(f"{auth}sessions/", **bearer(pair["access"]))
        assert listing.status_code == 500
    assert http.post(f"{auth}refresh/", {"refresh": pair["refresh"]},
                     content_type="application/json").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_under_debug_the_missing_table_shows_its_traceback(settings, user, password):
    settings.DEBUG = True
    http = Client(raise_request_exception=False)
    with table_missing():
        response = http.post("/api/auth/login/", {"username": "alice", "password": password},
                             content_type="application/json", HTTP_ACCEPT="text/html")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Traceback" in page and TABLE in page


def test_the_classifier(db):
    from django.db import InterfaceError, OperationalError, ProgrammingError

    assert database.is_outage(OperationalError("database is locked"))
    assert database.is_outage(OperationalError("unable to open database file"))
    assert database.is_outage(InterfaceError("connection already closed"))
    assert database.is_outage(OperationalError(2006, "MySQL server has gone away"))
    assert not database.is_outage(OperationalError(f"no such table: {TABLE}"))
    assert not database.is_outage(OperationalError("no such column: x.device"))
    assert not database.is_outage(OperationalError("table x has no column named device"))
    assert not database.is_outage(OperationalError(1054, "Unknown column 'device'"))
    assert not database.is_outage(OperationalError("ORA-00942: table or view does not exist"))
    assert not database.is_outage(ProgrammingError("relation does not exist"))
    # The real driver's own error, whichever database this run uses.
    with pytest.raises((OperationalError, ProgrammingError)) as missing, \
            connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM doubletoken_no_such_table")
    assert database.is_schema_error(missing.value) and not database.is_outage(missing.value)


@pytest.fixture
def fresh_process(monkeypatch):
    """The app as a new server process has it: nothing looked yet, the receiver connected."""
    monkeypatch.setattr(database, "_checked", threading.Event())
    request_started.connect(database.warn_if_unmigrated, dispatch_uid=database.DISPATCH_UID)
    yield
    request_started.connect(database.warn_if_unmigrated, dispatch_uid=database.DISPATCH_UID)


@pytest.mark.django_db
def test_a_server_looks_at_its_first_request_then_never_again(fresh_process,
                                                              django_assert_num_queries):
    with django_assert_num_queries(0):
        Client().get("/api/auth/jwks/")  # the test client is no server starting
    assert not database._checked.is_set()
    database.warn_if_unmigrated(sender=WSGIHandler)  # what request_started sends
    assert database._checked.is_set()
    # Gone from the signal: no later request pays anything for it.
    assert not request_started.disconnect(dispatch_uid=database.DISPATCH_UID)


def _manage(db_name, *args):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DOUBLETOKEN_TEST_DB_NAME": db_name, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


def test_check_names_migrate_until_it_is_run(tmp_path):
    db_name = str(tmp_path / "fresh.sqlite3")  # a new project's database: nothing migrated
    before = _manage(db_name, "check")
    assert "django_doubletoken.W040" in before and "python manage.py migrate" in before
    assert "0001_initial" in before
    migrated = _manage(db_name, "migrate")
    assert "Applying django_doubletoken.0001_initial... OK" in migrated
    assert "W040" not in migrated  # migrate is not told to run itself
    assert "W040" not in _manage(db_name, "check")


@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn"])
def test_a_server_started_without_migrate_says_so_and_answers_500(kind, tmp_path):
    log = tmp_path / "server.log"
    fresh = {"DOUBLETOKEN_TEST_DB_NAME": str(tmp_path / "fresh.sqlite3")}
    with app_server(kind, workers=1, environ=fresh, log=log) as base:
        login = [requests.post(f"{base}/api/auth/login/", timeout=30,
                               json={"username": "alice", "password": "x"}) for _ in range(3)]
    assert [r.status_code for r in login] == [500] * 3  # not 503 "try again shortly"
    printed = log.read_text()
    assert printed.count("python manage.py migrate") == 1, printed  # once, not per request

