"""The example project with CLIENT_SIDE_CACHE on: under uvicorn the middleware's async path
then answers revocation checks from memory, without a thread hop or a round trip
(bench/asgi_path.py)."""

from example_project.settings import *  # noqa: F403
from example_project.settings import DOUBLETOKEN

DOUBLETOKEN = {**DOUBLETOKEN, "CLIENT_SIDE_CACHE": True}
