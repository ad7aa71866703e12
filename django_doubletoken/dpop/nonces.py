"""Server nonces (RFC 9449 §8-9): stateless, an HMAC of a time slot, so any worker on any host
issues and accepts the same ones."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from django.conf import settings

from ..conf import derived_from_settings, doubletoken_settings
from ..errors import USE_DPOP_NONCE
from .errors import ProofError
from .jose import b64url, utf8


@derived_from_settings
def _nonce_secret() -> bytes:
    """Derived from the signing key (or SECRET_KEY when there is none), so every worker on
    every host issues and accepts the same nonces without sharing state."""
    material = doubletoken_settings.SIGNING_KEY or settings.SECRET_KEY
    if isinstance(material, str):
        material = material.encode()
    return hashlib.sha256(b"django_doubletoken.dpop-nonce:" + material).digest()


def _slot(now: float) -> int:
    return int(now // doubletoken_settings.DPOP_NONCE_ROTATION.total_seconds())


def _nonce_of_slot(slot: int) -> str:
    mac = hmac.new(_nonce_secret(), str(slot).encode(), hashlib.sha256).digest()
    return b64url(mac[:24])


def current_nonce(now: float | None = None) -> str:
    """The nonce to send in ``DPoP-Nonce``: it changes every ``DPOP_NONCE_ROTATION``."""
    return _nonce_of_slot(_slot(time.time() if now is None else now))


def nonce_is_current(nonce: Any, now: float | None = None) -> bool:
    """True for the nonce of this slot or the previous one (so a nonce lives one to two
    rotations), and of the next one while a host whose clock runs up to LEEWAY ahead may
    already issue it."""
    if not isinstance(nonce, str):
        return False
    now = time.time() if now is None else now
    slots = {_slot(now) - 1, _slot(now), _slot(now + doubletoken_settings.LEEWAY.total_seconds())}
    given = utf8(nonce)
    # Every candidate is compared, so the time taken does not say which one matched.
    return sum(hmac.compare_digest(given, _nonce_of_slot(s).encode()) for s in slots) > 0


def use_dpop_nonce(now: float | None = None) -> ProofError:
    """The ``use_dpop_nonce`` error, carrying the nonce the client must use (for the
    ``DPoP-Nonce`` header of the 400 at token endpoints, 401 elsewhere)."""
    return ProofError(USE_DPOP_NONCE, "the proof has no current nonce",
                      nonce=current_nonce(now))
