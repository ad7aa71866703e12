"""The example project with the sliding middleware forced onto Django's sync path, to measure
what its async path is worth under uvicorn (bench/asgi_path.py)."""

from example_project.settings import *  # noqa: F403
from example_project.settings import MIDDLEWARE

MIDDLEWARE = [
    "bench.asgi.middleware.SyncOnlySlidingTokenMiddleware"
    if path == "django_doubletoken.middleware.SlidingTokenMiddleware" else path
    for path in MIDDLEWARE
]
