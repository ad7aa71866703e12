"""django-ninja support (optional extra: ``pip install django-doubletoken[ninja]``).

    from ninja import NinjaAPI
    from django_doubletoken.ninja import DoubleTokenAuth, auth_router, register_error_handlers

    api = NinjaAPI(auth=DoubleTokenAuth())
    register_error_handlers(api)            # {"detail", "code"} + WWW-Authenticate on 401
    api.add_router("/auth/", auth_router())

``AsyncDoubleTokenAuth`` does the same for async views without a thread hop. Nothing in the
rest of the app imports this package, so projects without django-ninja never load it.
"""

try:
    import ninja  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "django_doubletoken.ninja needs django-ninja: pip install 'django-doubletoken[ninja]'"
    ) from exc

from .auth import AsyncDoubleTokenAuth, DoubleTokenAuth, NinjaTokenError, register_error_handlers
from .router import auth_router
from .stepup import AsyncStepUpAuth, StepUpAuth

__all__ = [
    "AsyncDoubleTokenAuth",
    "AsyncStepUpAuth",
    "DoubleTokenAuth",
    "NinjaTokenError",
    "StepUpAuth",
    "auth_router",
    "register_error_handlers",
]
