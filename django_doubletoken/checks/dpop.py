"""Checks of the DPoP settings (``DPOP``, also per client profile, and ``DPOP_*``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..conf import DEFAULTS, doubletoken_settings
from ..dpop import ALGORITHM_KEYS, MODES, OFF
from ..dpop.keys import PYJWT_NAMES
from ..keys import algorithm_available
from . import problem


def dpop_problems() -> list:
    modes = _modes()
    errors = [problem("E050", where=where, mode=mode, modes=", ".join(MODES))
              for where, mode in modes.items()
              if not isinstance(mode, str) or mode not in MODES]
    errors += _algorithms(in_use=any(mode != OFF for mode in modes.values()))
    for key in ("DPOP_PROOF_MAX_AGE", "DPOP_NONCE_ROTATION"):
        value = getattr(doubletoken_settings, key)
        if not (isinstance(value, timedelta) and value > timedelta(0)):
            errors.append(problem("E054", key=key, default=repr(DEFAULTS[key])))
    if not isinstance(doubletoken_settings.DPOP_NONCE, bool):
        errors.append(problem("E055"))
    return errors


def _modes() -> dict[str, Any]:
    """Where each DPoP mode is set: the top level, and each profile that sets its own."""
    modes = {"DOUBLETOKEN['DPOP']": doubletoken_settings.DPOP}
    profiles = doubletoken_settings.CLIENT_PROFILES
    for name, overrides in (profiles.items() if isinstance(profiles, dict) else ()):
        if isinstance(overrides, dict) and "DPOP" in overrides:
            modes[f"Client profile {name!r}: DPOP"] = overrides["DPOP"]
    return modes


def _algorithms(in_use: bool) -> list:
    names = doubletoken_settings.DPOP_ALGORITHMS
    choices = ", ".join(ALGORITHM_KEYS)
    if not isinstance(names, (list, tuple)) or not names or not all(
        isinstance(name, str) for name in names
    ):
        return [problem("E051", choices=choices)]
    refused = [name for name in names if name not in ALGORITHM_KEYS]
    if refused:
        return [problem("E052", refused=refused, choices=choices)]
    missing = [name for name in names
               if not algorithm_available(PYJWT_NAMES.get(name, name))] if in_use else []
    return [problem("E053", missing=missing)] if missing else []
