"""Double-token (JWT access + rotating refresh) authentication for Django REST Framework."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .shortcuts import login, login_response, reauthenticate, reauthenticate_response

__version__ = "0.1.0"

__all__ = ["login", "login_response", "reauthenticate", "reauthenticate_response"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing the package (settings, INSTALLED_APPS) loads no models.
    if name in __all__:
        from . import shortcuts

        return getattr(shortcuts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
