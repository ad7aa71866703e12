"""Keep device sessions in step with their user: since requests never load the user row,
whatever would make a user unfit to pass is acted on when the user is saved or deleted.

- password changed or made unusable (``REVOKE_ON_PASSWORD_CHANGE``, on by default) — but not
  re-hashed: when ``check_password`` upgrades an outdated hash (every Django release raises
  the hasher's iterations), the password is the same and nobody is logged out,
- ``is_active`` set to False,
- user deleted,

each revoke all of the user's sessions, so their tokens are refused on the next request.
``QuerySet.update()`` sends no signals: revoke with ``services.revoke_user_sessions`` there.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import get_hasher, identify_hasher, is_password_usable
from django.db.models.signals import post_init, post_save, pre_delete

from . import services
from .conf import doubletoken_settings
from .models import RevokeReason
from .services.last_login import take_over_django_receiver

SNAPSHOT = "_doubletoken_snapshot"


def _snapshot(instance: Any) -> tuple[Any, Any]:
    # Read from __dict__ so deferred fields are never loaded just for this.
    fields = instance.__dict__
    return fields.get("password"), fields.get("is_active")


def remember_credentials(sender, instance, **kwargs) -> None:
    instance.__dict__[SNAPSHOT] = _snapshot(instance)


def _outdated(encoded: str) -> bool:
    """Whether Django would re-hash this stored password at the next successful check."""
    try:
        hasher = identify_hasher(encoded)
    except ValueError:
        return False
    return hasher.algorithm != get_hasher().algorithm or hasher.must_update(encoded)


def _is_hash_upgrade(instance: Any, old: str, new: str, update_fields) -> bool:
    """Whether this save is ``check_password`` re-hashing the same password: its setter calls
    ``set_password``, clears ``_password`` (which a real ``set_password`` leaves set until the
    save; Django's "hash upgrades shouldn't be considered password changes") and saves the
    password field alone, over a hash the current hashers call outdated."""
    return (
        getattr(instance, "_password", None) is None
        and update_fields is not None
        and set(update_fields) == {"password"}
        and is_password_usable(old)
        and is_password_usable(new)
        and _outdated(old)
    )


def revoke_on_credential_change(sender, instance, created, raw=False, **kwargs) -> None:
    before = instance.__dict__.get(SNAPSHOT, (None, None))
    now = _snapshot(instance)
    instance.__dict__[SNAPSHOT] = now
    if created or raw:
        return
    (old_password, old_active), (password, active) = before, now
    if active is False and old_active is not False:
        services.revoke_user_sessions(instance.pk, RevokeReason.USER_DEACTIVATED)
    elif (
        doubletoken_settings.REVOKE_ON_PASSWORD_CHANGE
        and old_password is not None
        and password is not None
        and password != old_password
        and not _is_hash_upgrade(instance, old_password, password, kwargs.get("update_fields"))
    ):
        services.revoke_user_sessions(instance.pk, RevokeReason.PASSWORD_CHANGED,
                                      keep=services.kept_session(instance.pk))


def revoke_on_delete(sender, instance, **kwargs) -> None:
    # The rows go with the user (CASCADE); the cache must hear of it first.
    services.revoke_user_sessions(instance.pk, RevokeReason.USER_DELETED)


user_model = get_user_model()
post_init.connect(remember_credentials, sender=user_model, dispatch_uid="doubletoken_init")
post_save.connect(revoke_on_credential_change, sender=user_model, dispatch_uid="doubletoken_save")
pre_delete.connect(revoke_on_delete, sender=user_model, dispatch_uid="doubletoken_delete")
# Django's last_login receiver, in a form that lets services.login write last_login in the
# statement of the session row (services/last_login.py).
take_over_django_receiver()
