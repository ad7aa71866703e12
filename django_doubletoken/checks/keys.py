"""Checks of the signing and verifying keys (``ALGORITHM``, ``SIGNING_KEY``, ...)."""

from __future__ import annotations

from ..conf import doubletoken_settings
from ..keys import HMAC_ALGORITHMS, KeyConfigurationError, algorithm_available, build_key_ring
from . import problem


def key_problems() -> list:
    """Part of ``settings.check_settings``: at most one problem, the first that stops the
    keys from working."""
    algorithm = doubletoken_settings.ALGORITHM
    if not algorithm_available(algorithm):
        return [problem("E010", algorithm=algorithm)]
    if not isinstance(doubletoken_settings.PREVIOUS_VERIFYING_KEYS, (list, tuple)):
        return [problem("E028")]
    key = doubletoken_settings.SIGNING_KEY
    if algorithm in HMAC_ALGORITHMS:
        secrets = [key, *doubletoken_settings.PREVIOUS_VERIFYING_KEYS] if key is not None else []
        if any(not isinstance(s, (str, bytes)) or len(s) < 32 for s in secrets):
            return [problem("E011")]
        return []
    try:
        build_key_ring()
    except KeyConfigurationError as exc:
        return [problem("E012", error=exc)]
    return []
