"""The login's INSERT and the refresh's UPDATE bind their values on the server with psycopg 3
(``database.binding_cursor``), and stay what any Django query is: logged, seen by
``execute_wrapper``, raising Django's exception classes, leaving no prepared statement."""

import ipaddress

import pytest
from django.db import ProgrammingError, connection

from django_doubletoken.database import binding_cursor
from django_doubletoken.models import DeviceSession

pytestmark = pytest.mark.django_db

LOGIN, REFRESH = "/api/auth/login/", "/api/auth/refresh/"


def _cursor_classes(api, requests):
    seen = []

    def record(execute, sql, params, many, context):
        seen.append((sql.split(None, 1)[0], type(context["cursor"].cursor).__name__))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        responses = [api.post(path, body, format="json", **extra)
                     for path, body, extra in requests]
    return seen, responses


@pytest.mark.postgres
def test_on_postgresql_the_hot_writes_bind_on_the_server(api, user, password):
    body = {"username": "alice", "password": password}
    seen, (login,) = _cursor_classes(api, [(LOGIN, body, {"REMOTE_ADDR": "2001:db8::7"})])
    assert login.status_code == 200
    assert ("WITH", "ServerBindingCursor") in seen  # the INSERT and last_login together
    assert ("SELECT", "Cursor") in seen  # the ORM's own queries keep Django's cursor
    pair = login.json()
    seen, (refreshed,) = _cursor_classes(api, [(REFRESH, {"refresh": pair["refresh"]}, {})])
    assert refreshed.status_code == 200 and seen == [("UPDATE", "ServerBindingCursor")]

    session = DeviceSession.objects.get(pk=pair["session_id"])
    assert ipaddress.ip_address(session.ip) == ipaddress.ip_address("2001:db8::7")
    assert session.refresh_generation == 1 and session.user_id == user.pk
    assert session.rotated_at == session.last_used_at
    user.refresh_from_db()
    assert user.last_login == session.created_at
    with connection.cursor() as cursor:  # unnamed statements only: poolers keep working
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone() == (0,)


@pytest.mark.postgres
def test_its_errors_are_djangos_and_its_queries_are_logged(django_assert_num_queries):
    with django_assert_num_queries(1), binding_cursor(connection) as cursor:
        cursor.execute("SELECT %s::int + %s", [1, 2])
        assert cursor.fetchone() == (3,)
    with pytest.raises(ProgrammingError), binding_cursor(connection) as cursor:
        cursor.execute("SELECT * FROM no_such_table WHERE id = %s", [1])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # autocommit, as a refresh runs
def test_a_refresh_whose_connection_died_is_a_503_then_works_again(api, user, password):
    pair = api.post(LOGIN, {"username": "alice", "password": password}, format="json").json()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    killer = connection.copy()
    with killer.cursor() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    killer.close()

    refused = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert refused.status_code == 503, refused.content
    assert refused.json()["code"] == "database_unavailable"
    connection.close()  # what request_finished does with a connection that failed
    again = api.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert again.status_code == 200, again.content  # nothing had changed


def test_elsewhere_it_is_djangos_own_cursor():
    if connection.vendor == "postgresql":
        pytest.skip("SQLite and the other backends")
    with binding_cursor(connection) as cursor, connection.cursor() as plain:
        assert type(cursor.cursor) is type(plain.cursor)
