"""The example project's ASGI application plus the test consumers (uvicorn in tests/servers.py
with ``asgi="tests.asgi:application"``)."""

# First: it sets Django up, which the imports below need.
from example_project.asgi import django_application, websocket_urlpatterns  # noqa: I001

from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

from django_doubletoken.channels import DoubleTokenAuthMiddleware, step_up_required
from example_project.consumers import NotificationsConsumer

from .consumers import RoomConsumer

application = ProtocolTypeRouter({
    "http": django_application,
    "websocket": DoubleTokenAuthMiddleware(URLRouter([
        *websocket_urlpatterns,
        path("ws/room/", RoomConsumer.as_asgi()),
        # docs/how-to/websockets.md shows this route.
        # --8<-- [start:stepup]
        # Only for a user who proved who they are in the last 5 minutes.
        path("ws/recent/", step_up_required(NotificationsConsumer.as_asgi(), max_age=300)),
        # --8<-- [end:stepup]
    ])),
})
