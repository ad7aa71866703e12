"""``user.last_login``, written by the login's own statement instead of a save of its own.

Django updates ``last_login`` from a ``user_logged_in`` receiver (``update_last_login``, under
``dispatch_uid="update_last_login"``): one more statement after the session row's. This app
puts its own receiver in that place (``take_over_django_receiver``, same dispatch_uid, so a
project that disconnects Django's the documented way disconnects ours): it does what Django's
does, except after ``services.login``, which has already written ``last_login`` in the
statement that inserts the session row, with the same effect as the receiver's
``user.save(update_fields=["last_login"])``: the instance's ``last_login`` set, the column
written, ``pre_save`` and ``post_save`` sent with ``update_fields={"last_login"}``.

``services.login`` does so only where that save would do nothing more: this module's receiver
is connected, the user model keeps Django's own ``save()``, and both tables are on one
database. Otherwise the receiver saves as Django's does.
"""

from __future__ import annotations

import weakref
from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import update_last_login as django_update_last_login
from django.contrib.auth.signals import user_logged_in
from django.db import models, router
from django.db.models.signals import post_save, pre_save

from ..models import DeviceSession

DISPATCH_UID = "update_last_login"  # Django's, for its update_last_login
# Set on the user instance by services.login when its statement wrote last_login.
WRITTEN = "_doubletoken_last_login_written"
LAST_LOGIN_FIELDS = frozenset({"last_login"})


def update_last_login(sender: Any, user: Any, **kwargs: Any) -> None:
    """Django's ``update_last_login``, unless ``services.login`` already wrote it."""
    if user.__dict__.pop(WRITTEN, False):
        return
    django_update_last_login(sender, user, **kwargs)


def take_over_django_receiver() -> None:
    """Put ``update_last_login`` in the place of Django's, if Django's is connected."""
    if user_logged_in.disconnect(dispatch_uid=DISPATCH_UID):
        user_logged_in.connect(update_last_login, dispatch_uid=DISPATCH_UID)


def _receiver_connected() -> bool:
    for entry in user_logged_in.receivers:
        receiver = entry[1]
        if isinstance(receiver, weakref.ReferenceType):
            receiver = receiver()
        if receiver is update_last_login:
            return True
    return False


def writable_with_session(user: Any) -> str | None:
    """The database alias on which the login statement may write ``user.last_login`` with the
    same effect as the receiver's save, or None when the receiver should save it."""
    model = type(user)
    if not _receiver_connected() or model.save not in (AbstractBaseUser.save, models.Model.save):
        return None
    # A pending raw password makes AbstractBaseUser.save call password_changed as well.
    if getattr(user, "_password", None) is not None:
        return None
    alias = router.db_for_write(model, instance=user)
    return alias if alias == router.db_for_write(DeviceSession) else None


def before_write(user: Any, alias: str, now: datetime) -> None:
    """What ``save(update_fields=["last_login"])`` does before its UPDATE."""
    user.last_login = now
    pre_save.send(sender=type(user), instance=user, raw=False, using=alias,
                  update_fields=LAST_LOGIN_FIELDS)


def after_write(user: Any, alias: str) -> None:
    """What it does after, and the mark that tells the receiver it is done."""
    post_save.send(sender=type(user), instance=user, created=False,
                   update_fields=LAST_LOGIN_FIELDS, raw=False, using=alias)
    user.__dict__[WRITTEN] = True
