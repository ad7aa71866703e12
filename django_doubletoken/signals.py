"""Signals sent by ``django_doubletoken.services`` after each state change has been committed.

Every signal is sent with ``sender=DeviceSession`` and these keyword arguments:

``session_created``  ``session``, ``request`` (or None)
``session_refreshed`` ``session`` (its ``refresh_generation`` is the new one), ``request``
``token_slid``       ``session_id``, ``user_id`` (strings), ``old_jti``, ``new_jti``, ``expires_at``
                     (int, Unix time); sent once per replaced token, by the request that won
``session_revoked``  ``session``, ``reason`` (a ``RevokeReason`` value)
``refresh_reused``   ``session``, ``request``; the session has been revoked as well
``session_reauthenticated`` ``session`` (its ``auth_time``, ``acr``, ``amr`` the new ones),
                     ``request``: its user proved who they are again (``reauthenticate/``)

Receivers may be plain functions or coroutines. They run after the change is committed, so
none can undo it: a receiver that raises is logged (by Django, on the ``django.dispatch``
logger, with its traceback) and the others still run; the response the client gets is the
same. On the middleware's async path (ASGI) ``token_slid`` is sent with ``asend``: coroutine
receivers are awaited in the event loop and plain ones run in a worker thread, where they may
use the ORM.
"""

from django.dispatch import Signal

session_created = Signal()
session_refreshed = Signal()
token_slid = Signal()
session_revoked = Signal()
refresh_reused = Signal()
session_reauthenticated = Signal()
