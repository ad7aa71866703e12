"""Step-up authentication (RFC 9470): is the user's authentication behind an access token
recent enough, or strong enough, for a resource?

The one rule every guard applies, whatever its face: the DRF permissions
(``permissions.RecentAuthentication``, ``permissions.RequireACR``), the Ninja auth
(``ninja.StepUpAuth``), the plain-view decorator (``decorators.step_up``) and the Channels
handshake all call ``Requirement.check`` (or ``check_authentication``) on the claims their
authentication already verified. It reads the token's ``auth_time`` and ``acr`` claims only:
no database query, no cache round trip, nothing written. A refusal revokes nothing and slides
nothing differently; it raises ``InsufficientAuthentication``, which every face renders as
RFC 9470 §3's 401::

    WWW-Authenticate: Bearer realm="api", error="insufficient_user_authentication",
        error_description="More recent authentication is required", max_age=300

with the body ``{"detail", "code": "insufficient_user_authentication", "max_age": 300}`` (or
``acr_values``), and a WebSocket closes with the table's close code (4009). The client cures it
by re-authenticating the same session (``reauthenticate/``), which gives it a token with a
fresh ``auth_time`` and the ``acr`` of the method used.

Core module: no HTTP framework, no DRF.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import INSUFFICIENT_USER_AUTHENTICATION, STEP_UP_CHALLENGE, DoubleTokenError

# An acr value travels in a quoted auth-param and a space-separated list: printable ASCII
# without spaces, quotes or backslashes (RFC 7235 quoted-string, RFC 9470 §3).
_ACR_VALUE = re.compile(r"[!#-\[\]-~]+")


def is_acr_value(value: Any) -> bool:
    """Whether ``value`` can be an acr in a challenge: a non-empty string of printable ASCII
    without spaces, quotes or backslashes."""
    return isinstance(value, str) and _ACR_VALUE.fullmatch(value) is not None


# RFC 9470 §3's own wording (the header is for developers, in ASCII; the body's ``detail``
# is the translated message of the error table).
RECENCY_DESCRIPTION = "More recent authentication is required"
LEVEL_DESCRIPTION = "A different authentication level is required"


@dataclass(frozen=True)
class Requirement:
    """What a resource asks of the authentication behind a token.

    ``max_age``: at most this many seconds since the user last proved who they are (the
    token's ``auth_time``: login or re-authentication, never a refresh or a slide).
    ``acr_values``: the token's ``acr`` must be one of these (RFC 9470: in order of
    preference). Either or both; a token without the claim asked about never meets it.
    """

    max_age: int | None = None
    acr_values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        max_age = self.max_age
        if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int)
                                    or max_age < 0):
            raise ValueError(f"max_age must be a number of seconds (an int >= 0), not "
                             f"{max_age!r}; e.g. int(timedelta(minutes=5).total_seconds()).")
        values = self.acr_values
        if isinstance(values, str) or not all(is_acr_value(v) for v in values):
            raise ValueError(f"acr_values must be a sequence of acr strings without spaces or "
                             f"quotes, not {values!r}.")
        object.__setattr__(self, "acr_values", tuple(values))
        if max_age is None and not self.acr_values:
            raise ValueError("A step-up requirement needs max_age, acr_values or both.")

    def unmet(self, claims: Any, now: float | None = None) -> Requirement | None:
        """The part of this requirement the token's claims do not meet, or None when they
        meet all of it. ``claims``: a verified token's (``AccessClaims``, or any mapping
        with ``get``)."""
        context = getattr(claims, "context", None)  # AccessClaims: read as decoded
        if context is not None:
            auth_time, acr = context.auth_time, context.acr
        else:
            auth_time, acr = claims.get("auth_time"), claims.get("acr")
        stale = False
        if self.max_age is not None:
            stale = (not isinstance(auth_time, int) or isinstance(auth_time, bool)
                     or (time.time() if now is None else now) - auth_time > self.max_age)
        weak = bool(self.acr_values) and acr not in self.acr_values
        if not (stale or weak):
            return None
        if stale and weak:
            return self
        return Requirement(max_age=self.max_age) if stale else Requirement(
            acr_values=self.acr_values)

    def check(self, claims: Any, now: float | None = None) -> None:
        """Raise ``InsufficientAuthentication`` (naming what is unmet) unless the claims meet
        this requirement."""
        unmet = self.unmet(claims, now)
        if unmet is not None:
            raise InsufficientAuthentication(unmet)

    def __and__(self, other: Requirement) -> Requirement:
        """Both requirements: the smaller ``max_age``; ``acr_values`` present in both (or the
        one given)."""
        ages = [a for a in (self.max_age, other.max_age) if a is not None]
        if self.acr_values and other.acr_values:
            values = tuple(v for v in self.acr_values if v in other.acr_values)
            if not values:
                raise ValueError(f"No acr meets both {self.acr_values} and {other.acr_values}.")
        else:
            values = self.acr_values or other.acr_values
        return Requirement(max_age=min(ages) if ages else None, acr_values=values)


def requirement(max_age: Any = None, acr_values: Iterable[str] | str = ()) -> Requirement:
    """A ``Requirement`` from what a guard is given: ``max_age`` in seconds or as a
    ``timedelta``, ``acr_values`` as a sequence or one space-separated string."""
    if hasattr(max_age, "total_seconds"):
        max_age = int(max_age.total_seconds())
    if isinstance(acr_values, str):
        acr_values = acr_values.split()
    return Requirement(max_age=max_age, acr_values=tuple(acr_values))


def check_authentication(claims: Any, *, max_age: Any = None,
                         acr_values: Iterable[str] | str = (), now: float | None = None) -> None:
    """The step-up check for a caller holding verified claims (a WebSocket handshake, a
    project's own code): ``InsufficientAuthentication`` unless the authentication behind them
    is at most ``max_age`` old (seconds or ``timedelta``) and its ``acr`` one of
    ``acr_values``. Reads the claims only: no query, no cache round trip."""
    requirement(max_age, acr_values).check(claims, now)


class InsufficientAuthentication(DoubleTokenError):
    """RFC 9470's ``insufficient_user_authentication``: ``requirement`` is what the token did
    not meet, which the challenge and the body name (``max_age``, ``acr_values``)."""

    def __init__(self, requirement: Requirement, message: str | None = None) -> None:
        super().__init__(INSUFFICIENT_USER_AUTHENTICATION, message)
        self.requirement = requirement

    @property
    def description(self) -> str:
        return RECENCY_DESCRIPTION if self.requirement.max_age is not None \
            and not self.requirement.acr_values else LEVEL_DESCRIPTION

    def fields(self) -> dict[str, Any]:
        """What the body adds to ``{"detail", "code"}``: ``max_age`` (int) and/or
        ``acr_values`` (one space-separated string, as in the challenge)."""
        fields: dict[str, Any] = {}
        if self.requirement.acr_values:
            fields["acr_values"] = " ".join(self.requirement.acr_values)
        if self.requirement.max_age is not None:
            fields["max_age"] = self.requirement.max_age
        return fields

    def challenge(self, scheme: str) -> str:
        """The ``WWW-Authenticate`` value (RFC 9470 §3) after the face's bare challenge
        ``scheme`` (``Bearer realm="api"``)."""
        params = [f'error="{STEP_UP_CHALLENGE}"', f'error_description="{self.description}"']
        if self.requirement.acr_values:
            params.append(f'acr_values="{" ".join(self.requirement.acr_values)}"')
        if self.requirement.max_age is not None:
            params.append(f"max_age={self.requirement.max_age}")
        return ", ".join([scheme, *params])
