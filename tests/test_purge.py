"""purge_device_sessions deletes every purgeable row, whatever ties its keys have, and on
PostgreSQL each batch reads its own index from where the previous batch stopped (the plan is
asserted with EXPLAIN), so the last batch costs what the first did."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from django_doubletoken import services
from django_doubletoken.models import DeviceSession, RevokeReason

pytestmark = pytest.mark.django_db


def _sessions(user, count, **fields):
    now = timezone.now()
    values = {"refresh_expires_at": now + timedelta(days=1),
              "absolute_expires_at": now + timedelta(days=30), **fields}
    return DeviceSession.objects.bulk_create(
        DeviceSession(user=user, client="web", **values) for _ in range(count)
    )


def _purge(batch_size, now):
    return list(services.purge_sessions(
        expired_before=now - timedelta(days=7), revoked_before=now - timedelta(days=30),
        batch_size=batch_size,
    ))


def test_every_purgeable_row_goes_however_its_keys_tie(user):
    now = timezone.now()
    long_ago, expired, revoked = (now - timedelta(days=days) for days in (90, 10, 40))
    # Whole groups share one key: a bulk revocation stamps one revoked_at on all its rows.
    gone = [
        *_sessions(user, 7, revoked_at=revoked, revoke_reason=RevokeReason.ADMIN_KICK),
        *_sessions(user, 5, refresh_expires_at=expired, absolute_expires_at=expired),
        *_sessions(user, 3, refresh_expires_at=expired),
        # Past its absolute expiry only (the refresh expiry is normally the earlier one).
        *_sessions(user, 2, absolute_expires_at=long_ago),
        # Revoked long ago and expired too: purged once, by whichever walk meets it first.
        *_sessions(user, 2, revoked_at=revoked, refresh_expires_at=long_ago),
    ]
    kept = [
        *_sessions(user, 4),
        *_sessions(user, 3, refresh_expires_at=now - timedelta(days=2)),
        *_sessions(user, 3, revoked_at=now - timedelta(days=20), refresh_expires_at=long_ago),
    ]
    counts = _purge(batch_size=3, now=now)
    assert sum(counts) == len(gone) and max(counts) <= 3
    assert set(DeviceSession.objects.values_list("pk", flat=True)) == {s.pk for s in kept}
    assert _purge(batch_size=3, now=now) == []


def test_a_walk_picks_up_where_its_last_batch_stopped(user):
    now = timezone.now()
    old = now - timedelta(days=40)
    _sessions(user, 5, revoked_at=old)
    walk = DeviceSession.objects.purge_walks(
        expired_before=now - timedelta(days=7), revoked_before=now - timedelta(days=30))[1]
    first = walk.next_batch(2)
    # Not deleted, so only the walk's own position keeps it from reading them again.
    second = walk.next_batch(2)
    third = walk.next_batch(2)
    assert len(first) == len(second) == 2 and len(third) == 1
    assert len({*first, *second, *third}) == 5
    assert walk.next_batch(2) == []


ROWS = 60_000


@pytest.fixture
def many_sessions(user):
    """ROWS sessions written by generate_series: a third live, a third long expired, a third
    revoked long ago; statistics gathered, as autovacuum would have."""
    table = DeviceSession._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (id, user_id, client, device, user_agent, created_at,
                last_used_at, refresh_generation, refresh_expires_at, absolute_expires_at,
                revoked_at, revoke_reason)
            SELECT gen_random_uuid(), %s, 'web', '', '', now() - n * interval '1 minute',
                now(), 0,
                CASE WHEN n %% 3 = 1 THEN now() - interval '30 days' - n * interval '1 second'
                     ELSE now() + interval '1 day' END,
                now() + interval '30 days',
                CASE WHEN n %% 3 = 2 THEN now() - interval '60 days' - n * interval '1 second'
                END,
                CASE WHEN n %% 3 = 2 THEN 'logout' ELSE '' END
            FROM generate_series(1, %s) AS n
            """,
            [user.pk, ROWS],
        )
        cursor.execute(f"ANALYZE {table}")


def _plan(queryset):
    return queryset.explain()


@pytest.mark.postgres
def test_each_batch_starts_in_its_index_where_the_last_stopped(many_sessions):
    now = timezone.now()
    walks = DeviceSession.objects.purge_walks(
        expired_before=now - timedelta(days=7), revoked_before=now - timedelta(days=30))
    for walk, index in zip(walks, ("doubletoken_expiry", "doubletoken_revoked"), strict=True):
        first = _plan(walk.page(1000))
        batch = walk.next_batch(1000)
        DeviceSession.objects.filter(pk__in=batch).delete()
        later = _plan(walk.page(1000))
        for plan in (first, later):
            # The index read in its own order: no sort, no scan of the table.
            assert re.search(rf"Index (Only )?Scan using {index} ", plan), plan
            assert "Sort" not in plan and "Seq Scan" not in plan, plan
        # The row comparison is an index condition: the scan starts past the deleted rows
        # instead of filtering its way through them.
        cond = next(line for line in later.splitlines() if "Index Cond" in line)
        assert ", id) >" in cond and "ROW(" in cond, later


@pytest.mark.postgres
def test_the_device_list_and_the_changelist_read_an_index(many_sessions, user):
    from django.contrib.admin.sites import site
    from django.contrib.admin.views.main import ChangeList
    from django.test import RequestFactory

    device_list = DeviceSession.objects.active().filter(user_id=user.pk)
    assert "Index Scan" in _plan(device_list[:50])
    # Every lookup by user (another user's device list, the cascade when a user is deleted)
    # reads (user, -created_at): the foreign key has no index of its own.
    someone_else = type(user).objects.create_user("carol", "c@example.com", "x")
    for by_user in (DeviceSession.objects.filter(user_id=someone_else.pk).order_by("-created_at"),
                    DeviceSession.objects.filter(user_id__in=[someone_else.pk])):
        plan = _plan(by_user)
        assert "doubletoken_user_created" in plan and "Seq Scan" not in plan, plan
    indexes = connection.introspection.get_constraints(
        connection.cursor(), DeviceSession._meta.db_table)
    assert [name for name, index in indexes.items()
            if index["index"] and index["columns"] == ["user_id"]] == []

    admin = site._registry[DeviceSession]
    request = RequestFactory().get("/admin/django_doubletoken/devicesession/")
    request.user = type(user).objects.create_superuser("staff", "s@example.com", "x")
    changelist = admin.get_changelist_instance(request)
    assert isinstance(changelist, ChangeList)
    page = changelist.get_queryset(request)[:admin.list_per_page]
    plan = _plan(page)
    assert "Index Scan using doubletoken_created" in plan, plan
    assert "Sort" not in plan.replace("Incremental Sort", ""), plan
    assert "Seq Scan on django_doubletoken_devicesession" not in plan, plan


@pytest.mark.postgres
def test_purge_at_scale_deletes_exactly_the_purgeable(many_sessions):
    now = timezone.now()
    cutoffs = {"expired_before": now - timedelta(days=7),
               "revoked_before": now - timedelta(days=30)}
    expected = DeviceSession.objects.purgeable(**cutoffs).count()
    assert expected == 2 * ROWS // 3
    counts = list(services.purge_sessions(**cutoffs, batch_size=5000))
    assert sum(counts) == expected
    assert DeviceSession.objects.count() == ROWS - expected
    assert not DeviceSession.objects.purgeable(**cutoffs).exists()
