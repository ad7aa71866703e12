"""Step-up guards as DRF permissions: ``RecentAuthentication(max_age=...)`` and
``RequireACR(...)``, per view, composable with ``&`` and ``|``::

    class ChangeEmailView(APIView):
        permission_classes = [IsAuthenticated & RecentAuthentication(max_age=300)]

Each applies ``stepup.Requirement`` to the claims ``DoubleTokenAuthentication`` verified (no
query, no cache round trip). A token that does not meet it gets RFC 9470's 401 (the
``insufficient_user_authentication`` challenge with ``max_age`` / ``acr_values``), raised from
the permission itself so that it is a 401 whatever exception handler the project uses; a
request not authenticated by an access token of the app is refused as DRF refuses any
permission (401 ``not_authenticated`` without credentials, else 403).

Composition: ``a & b`` and ``a | b`` where one side is a step-up guard build a guard that
evaluates both sides, and answers with the step-up 401 only when meeting the step-up
requirement is what is missing (``&`` merges both requirements into one challenge). Put a
guard on the left of ``|`` (or last in a chain of DRF's own operators): DRF's ``OR`` asks its
left side first, and a guard on the left of DRF's operators answers for the whole expression.
Guards cannot be negated.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from .api_errors import APIError
from .exception_handler import challenge
from .services import AccessGrant
from .stepup import InsufficientAuthentication, Requirement, requirement

__all__ = ["RecentAuthentication", "RequireACR", "StepUpPermission"]

# A guard's outcome for a request: True (passes), False (refused as any permission is), or
# the step-up refusal.
Verdict = bool | InsufficientAuthentication


def _permission(operand: Any) -> Any:
    """A DRF permission instance from what ``permission_classes`` may hold (a class, DRF's
    operand holder, or an instance such as a guard)."""
    if isinstance(operand, type) or not hasattr(operand, "has_permission"):
        return operand()
    return operand


class StepUpPermission:
    """Base of the guards: an instance standing in ``permission_classes`` (DRF instantiates
    each entry by calling it; a guard returns itself)."""

    requirement: Requirement | None = None

    def __call__(self) -> StepUpPermission:
        return self

    def verdict(self, request: Request, view: Any) -> Verdict:
        grant = getattr(request, "auth", None)
        if not isinstance(grant, AccessGrant):
            return False
        unmet = self.requirement.unmet(grant.claims)
        return True if unmet is None else InsufficientAuthentication(unmet)

    def has_permission(self, request: Request, view: Any) -> bool:
        verdict = self.verdict(request, view)
        if isinstance(verdict, InsufficientAuthentication):
            raise APIError(verdict, challenge(request))
        return verdict

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return True

    def __and__(self, other: Any) -> StepUpPermission:
        return AllOf(self, other)

    def __rand__(self, other: Any) -> StepUpPermission:
        return AllOf(other, self)

    def __or__(self, other: Any) -> StepUpPermission:
        return AnyOf(self, other)

    def __ror__(self, other: Any) -> StepUpPermission:
        return AnyOf(other, self)

    def __invert__(self) -> StepUpPermission:
        raise TypeError("A step-up guard cannot be negated.")


def _verdict(operand: Any, request: Request, view: Any) -> Verdict:
    permission = _permission(operand)
    if isinstance(permission, StepUpPermission):
        return permission.verdict(request, view)
    return bool(permission.has_permission(request, view))


class AllOf(StepUpPermission):
    """``a & b``: both pass. A refusal of the other side is answered as DRF answers it; the
    step-up refusals of both sides are one challenge naming both requirements."""

    def __init__(self, *operands: Any) -> None:
        self.operands = operands

    def verdict(self, request: Request, view: Any) -> Verdict:
        unmet: list[Requirement] = []
        for operand in self.operands:
            verdict = _verdict(operand, request, view)
            if verdict is False:
                return False
            if isinstance(verdict, InsufficientAuthentication):
                unmet.append(verdict.requirement)
        if not unmet:
            return True
        merged = unmet[0]
        for other in unmet[1:]:
            merged = merged & other
        return InsufficientAuthentication(merged)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return all(_permission(op).has_object_permission(request, view, obj)
                   for op in self.operands)


class AnyOf(StepUpPermission):
    """``a | b``: either passes. When neither does and one side is a step-up guard, its
    refusal (meeting it would let the request through) is the answer."""

    def __init__(self, *operands: Any) -> None:
        self.operands = operands

    def verdict(self, request: Request, view: Any) -> Verdict:
        step_up: InsufficientAuthentication | None = None
        for operand in self.operands:
            verdict = _verdict(operand, request, view)
            if verdict is True:
                return True
            if isinstance(verdict, InsufficientAuthentication) and step_up is None:
                step_up = verdict
        return step_up if step_up is not None else False

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return any(_verdict(op, request, view) is True
                   and _permission(op).has_object_permission(request, view, obj)
                   for op in self.operands)


class RecentAuthentication(StepUpPermission):
    """The user proved who they are (login or re-authentication) at most ``max_age`` ago:
    seconds, or a ``timedelta``."""

    def __init__(self, max_age: Any) -> None:
        self.requirement = requirement(max_age=max_age)

    def __repr__(self) -> str:
        return f"RecentAuthentication(max_age={self.requirement.max_age})"


class RequireACR(StepUpPermission):
    """The session's authentication has one of these ``acr`` values (the password's is
    ``PASSWORD_ACR``; stronger methods name theirs in ``REAUTHENTICATION_METHODS``)."""

    def __init__(self, *acr_values: str) -> None:
        self.requirement = requirement(acr_values=acr_values)

    def __repr__(self) -> str:
        return f"RequireACR({', '.join(map(repr, self.requirement.acr_values))})"
