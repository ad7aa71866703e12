"""The old home of the DRF exception handler, kept so that existing settings keep working.

The module holding the handler is ``django_doubletoken.exception_handler`` since 0.2 (the
exceptions themselves live in ``django_doubletoken.errors``).
"""

import warnings

from .exception_handler import exception_handler

warnings.warn(
    "Set REST_FRAMEWORK['EXCEPTION_HANDLER'] to "
    "'django_doubletoken.exception_handler.exception_handler'; "
    "django_doubletoken.exceptions is deprecated.",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["exception_handler"]
