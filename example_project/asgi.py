"""ASGI entry point: Django for HTTP, Channels for the demo's WebSocket.

``DoubleTokenAuthMiddleware`` authenticates each WebSocket with an access token and closes it
when its session is revoked or its token expires (docs/how-to/websockets.md).
"""

# docs/how-to/websockets.md shows this file from here on.
# --8<-- [start:asgi]
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
# First: it sets Django up, which the imports below need.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from django_doubletoken.channels import DoubleTokenAuthMiddleware  # noqa: E402

from .consumers import NotificationsConsumer  # noqa: E402

websocket_urlpatterns = [
    path("ws/notifications/", NotificationsConsumer.as_asgi()),
]

application = ProtocolTypeRouter({
    "http": django_application,
    "websocket": DoubleTokenAuthMiddleware(URLRouter(websocket_urlpatterns)),
})
# --8<-- [end:asgi]
