"""How device-session rows are selected and written outside the ORM's per-call query building.

``DeviceSessionQuerySet`` (``DeviceSession.objects``) says once what "active", "expired" and
"purgeable" mean. Its two hot writes, the INSERT of a login and the UPDATE of every refresh,
run SQL built once per database (``_insert_sql``, ``_rotation_sql``) with values prepared by
each field as the ORM would. ``PurgeWalk`` reads purgeable rows in keyset-paginated batches.
``EXPIRES_AT`` is the expression the expiry index is keyed by (``models.DeviceSession.Meta``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connections, models, router, transaction
from django.db.models import F, Q
from django.db.models.fields.tuple_lookups import TupleGreaterThan
from django.db.models.functions import Least
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from .database import binding_cursor

if TYPE_CHECKING:
    from .models import DeviceSession

# The columns whose values rotate_generation prepares with rotated_at's field.
SAME_PREPARATION_FIELDS = ("rotated_at", "last_used_at", "refresh_expires_at",
                           "absolute_expires_at")


# When a session ends unless it is revoked first: the earlier of its two expiries (the row's
# ``expires_at``), the key of the index that finds expired rows.
EXPIRES_AT = Least("refresh_expires_at", "absolute_expires_at")


def _expired_by(moment: datetime) -> Q:
    return Q(revoked_at__isnull=True) & Q(LessThanOrEqual(EXPIRES_AT, moment))


class DeviceSessionQuerySet(models.QuerySet):
    """What "active", "expired" and "purgeable" mean, for every query that needs them."""

    def active(self, now: datetime | None = None) -> DeviceSessionQuerySet:
        now = now or timezone.now()
        return self.filter(
            revoked_at__isnull=True, refresh_expires_at__gt=now, absolute_expires_at__gt=now
        )

    def expired(self, now: datetime | None = None) -> DeviceSessionQuerySet:
        """Not revoked, but past its refresh or absolute expiry at ``now``."""
        return self.filter(_expired_by(now or timezone.now()))

    def purgeable(
        self, *, expired_before: datetime, revoked_before: datetime
    ) -> DeviceSessionQuerySet:
        """Sessions expired by ``expired_before`` or revoked before ``revoked_before``; a
        revoked session is kept until then (for audit) even if it has also expired."""
        return self.filter(_expired_by(expired_before) | Q(revoked_at__lt=revoked_before))

    def purge_walks(
        self, *, expired_before: datetime, revoked_before: datetime
    ) -> list[PurgeWalk]:
        """``purgeable()`` as two walks, each in the order of an index of its own (keyed by
        ``(expiry, id)`` for the expired, ``(revoked_at, id)`` for the revoked), so that a
        batch can start exactly where the previous one stopped."""
        return [
            PurgeWalk(self.filter(_expired_by(expired_before)), (EXPIRES_AT, F("pk"))),
            PurgeWalk(self.filter(revoked_at__lt=revoked_before), (F("revoked_at"), F("pk"))),
        ]

    def rotate_generation(
        self, *, pk: uuid.UUID, user_id: Any, client: str, generation: int, now: datetime,
        refresh_expires_at: datetime,
    ) -> bool:
        """Move a live session from ``generation`` to the next one; False when the row is not
        (or no longer) exactly that. The statement of every refresh, equivalent to

            filter(pk=pk, user_id=user_id, client=client, refresh_generation=generation,
                   revoked_at__isnull=True, refresh_expires_at__gt=now,
                   absolute_expires_at__gt=now)
            .update(refresh_generation=F("refresh_generation") + 1, rotated_at=now,
                    last_used_at=now, refresh_expires_at=refresh_expires_at)

        with its SQL built once per database instead of per call: building and compiling
        that query cost the ORM several times the statement itself. Values go through each
        field's own ``get_db_prep_value``, as the ORM would send them.
        """
        alias = router.db_for_write(self.model)
        connection = connections[alias]
        field = self.model._meta.get_field

        def value(name: str, python_value: Any) -> Any:
            return field(name).get_db_prep_value(python_value, connection)

        # ``now`` fills four places, all plain DateTimeFields (SAME_PREPARATION_FIELDS), which
        # prepare a value alike: prepared once, it serves the four.
        at_now = value("rotated_at", now)
        params = [
            at_now, at_now, value("refresh_expires_at", refresh_expires_at),
            value("id", pk), value("user", user_id), value("client", client),
            value("refresh_generation", generation), at_now, at_now,
        ]
        with binding_cursor(connection) as cursor:
            cursor.execute(_rotation_sql(self.model, connection), params)
            return cursor.rowcount == 1

    def insert(self, session: DeviceSession, *, last_login_of: Any = None) -> None:
        """INSERT the unsaved ``session``, its SQL built once per database, the values prepared
        by each field as the ORM would. With ``last_login_of`` (a user whose ``last_login`` is
        set, on the same database), that column is written too: in the same statement on
        PostgreSQL (a data-modifying ``WITH``), in the same transaction elsewhere. Sends no
        model signals (``services.login`` uses it only when nobody listens to them)."""
        alias = router.db_for_write(self.model)
        connection = connections[alias]
        user_model = type(last_login_of)._meta.concrete_model if last_login_of else None
        params = [f.get_db_prep_save(getattr(session, f.attname), connection)
                  for f in self.model._meta.concrete_fields]
        if user_model is not None:
            meta = user_model._meta
            params += [meta.get_field("last_login").get_db_prep_save(
                last_login_of.last_login, connection),
                meta.pk.get_db_prep_save(last_login_of.pk, connection)]
        statements = _insert_sql(self.model, connection, user_model)
        if len(statements) == 1:
            with binding_cursor(connection) as cursor:
                cursor.execute(statements[0], params)
        else:
            with transaction.atomic(using=alias), binding_cursor(connection) as cursor:
                split = len(self.model._meta.concrete_fields)
                cursor.execute(statements[0], params[:split])
                cursor.execute(statements[1], params[split:])
        session._state.adding, session._state.db = False, alias


class PurgeWalk:
    """One kind of purgeable rows, read in batches in the order of its index's key.

    Each batch starts after the last key of the one before (keyset pagination): the rows
    deleted so far, whose dead index entries and tuples stay until VACUUM, lie behind the
    start, so the last batch costs what the first did. (``ORDER BY pk LIMIT n`` from the
    start walked past every dead tuple of the earlier batches: quadratic in all.)
    """

    def __init__(self, queryset: models.QuerySet, key: tuple[Any, Any]) -> None:
        self.queryset = queryset.annotate(_walk_key=key[0]).order_by(*key)
        self.key = key
        self.after: tuple[Any, Any] | None = None

    def page(self, size: int) -> models.QuerySet:
        """The query of the next batch: ``(pk, key)`` of up to ``size`` rows past the last."""
        page = self.queryset
        if self.after is not None:
            page = page.filter(TupleGreaterThan(self.key, self.after))
        return page.values_list("pk", "_walk_key")[:size]

    def next_batch(self, size: int) -> list[Any]:
        """The pks of the next ``size`` rows (fewer at the end); the walk moves past them."""
        rows = list(self.page(size))
        if rows:
            self.after = (rows[-1][1], rows[-1][0])
        return [pk for pk, _ in rows]


_ROTATION_SQL: dict[tuple[str, str], str] = {}
_INSERT_SQL: dict[tuple[str, str, str], tuple[str, ...]] = {}


def _insert_sql(
    model: type[models.Model], connection: Any, user_model: type[models.Model] | None
) -> tuple[str, ...]:
    """The INSERT of a session row, and the UPDATE of its user's last_login: one statement
    on PostgreSQL, two (for one transaction) elsewhere."""
    key = (connection.alias, model._meta.db_table,
           user_model._meta.db_table if user_model else "")
    if key not in _INSERT_SQL:
        q = connection.ops.quote_name
        fields = model._meta.concrete_fields
        insert = (f"INSERT INTO {q(model._meta.db_table)} "
                  f"({', '.join(q(f.column) for f in fields)}) "
                  f"VALUES ({', '.join(['%s'] * len(fields))})")
        if user_model is None:
            _INSERT_SQL[key] = (insert,)
        else:
            meta = user_model._meta
            update = (f"UPDATE {q(meta.db_table)} SET {q(meta.get_field('last_login').column)}"
                      f" = %s WHERE {q(meta.pk.column)} = %s")
            _INSERT_SQL[key] = (
                (f"WITH doubletoken_session AS ({insert}) {update}",)
                if connection.vendor == "postgresql" else (insert, update)
            )
    return _INSERT_SQL[key]


def _rotation_sql(model: type[models.Model], connection: Any) -> str:
    key = (connection.alias, model._meta.db_table)
    if key not in _ROTATION_SQL:
        q = connection.ops.quote_name
        column = {f.name: q(f.column) for f in model._meta.concrete_fields}
        _ROTATION_SQL[key] = (
            f"UPDATE {q(model._meta.db_table)} SET "
            f"{column['refresh_generation']} = {column['refresh_generation']} + 1, "
            f"{column['rotated_at']} = %s, {column['last_used_at']} = %s, "
            f"{column['refresh_expires_at']} = %s "
            f"WHERE {column['id']} = %s AND {column['user']} = %s AND {column['client']} = %s "
            f"AND {column['refresh_generation']} = %s AND {column['revoked_at']} IS NULL "
            f"AND {column['refresh_expires_at']} > %s AND {column['absolute_expires_at']} > %s"
        )
    return _ROTATION_SQL[key]
