"""Custom access-token claims (DOUBLETOKEN["ACCESS_TOKEN_CLAIMS"])."""

from typing import Any


def access_claims(user: Any, session: Any) -> dict[str, Any]:
    """The user's group names as ``roles``: computed at login and at each refresh, so a
    role change shows up within one access-token lifetime. Views read
    ``request.auth.claims["roles"]``; other services read them from the token itself,
    verified with the JWKS endpoint (docs/how-to/extending.md)."""
    return {"roles": sorted(user.groups.values_list("name", flat=True))}
