"""Double-token (JWT access + rotating refresh) authentication for Django REST Framework."""

__version__ = "0.1.0"
