"""Binding a new session to the DPoP key of its login's proof (RFC 9449 §5)."""

from __future__ import annotations

import dataclasses

from .. import dpop
from ..conf import doubletoken_settings
from ..tokens import SessionContext


def bound_context(client: str | None, proof: dpop.ProofRequest | None,
                  context: SessionContext | None = None) -> SessionContext | None:
    """``context`` (the session's, for ``login(context=...)``) bound to the key of the login's
    DPoP proof, checked and recorded here, before anything is written: per the profile's mode,
    no proof leaves it unbound (``optional``) or is refused (``required``); ``off`` ignores
    one. ``ProofError`` for a proof that is sent but wrong."""
    checked = dpop.login_proof(client or doubletoken_settings.DEFAULT_CLIENT, proof)
    if checked is None:
        return context
    return dataclasses.replace(context or SessionContext(), jkt=checked.jkt)
