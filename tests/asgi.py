"""The example project's ASGI application plus the test consumers (uvicorn in tests/servers.py
with ``asgi="tests.asgi:application"``)."""

# First: it sets Django up, which the imports below need.
from example_project.asgi import django_application, websocket_urlpatterns  # noqa: I001

from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

from django_doubletoken.channels import DoubleTokenAuthMiddleware

from .consumers import RoomConsumer

application = ProtocolTypeRouter({
    "http": django_application,
    "websocket": DoubleTokenAuthMiddleware(URLRouter([
        *websocket_urlpatterns,
        path("ws/room/", RoomConsumer.as_asgi()),
    ])),
})
