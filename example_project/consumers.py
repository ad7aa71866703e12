"""The demo's WebSocket at ws/notifications/: a tick every few seconds to the signed-in user.

Authentication, the close on logout (from any tab, device or the admin) and the close at the
access token's expiry are DoubleTokenAuthMiddleware's (see asgi.py); this consumer only ticks.
"""

import asyncio
import os

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

TICK_SECONDS = float(os.environ.get("TICK_SECONDS", "3"))


class NotificationsConsumer(AsyncJsonWebsocketConsumer):
    # It sends to its own socket only: no channel of its own on the layer, no reader blocked
    # on Redis per socket. (The middleware has its own, for the revocation message.)
    channel_layer_alias = None

    async def connect(self) -> None:
        await self.accept()
        self.ticker = asyncio.ensure_future(self.tick())

    async def tick(self) -> None:
        count = 0
        while True:
            count += 1
            await self.send_json({
                "type": "tick",
                "count": count,
                "at": timezone.now().isoformat(),
                "user_id": self.scope["user"].pk,  # no query: the token's user pk
                "session_id": self.scope["auth"].session_id,
            })
            await asyncio.sleep(TICK_SECONDS)

    async def receive_json(self, content, **kwargs) -> None:
        await self.send_json({"type": "echo", "content": content})

    async def disconnect(self, code) -> None:
        ticker = getattr(self, "ticker", None)
        if ticker is not None:
            ticker.cancel()
