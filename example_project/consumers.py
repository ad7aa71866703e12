"""The demo's WebSocket at ws/notifications/: a tick every few seconds to the signed-in user.

Authentication, the close on logout (from any tab, device or the admin) and the close at the
access token's expiry are DoubleTokenAuthMiddleware's (see asgi.py); this consumer only ticks.
"""

import asyncio
import contextlib
import json
import os

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

TICK_SECONDS = float(os.environ.get("TICK_SECONDS", "3"))
# RFC 6455 §7.4.1 close codes for frames this JSON-over-text socket cannot take.
UNSUPPORTED_DATA = 1003  # a binary frame
INVALID_PAYLOAD = 1007  # text that is not JSON


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

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        # AsyncJsonWebsocketConsumer would raise on either, ending the consumer without a
        # close frame and leaving its ticker behind: answer with the close code that says why.
        if text_data is None:
            await self.close_for(UNSUPPORTED_DATA)
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):
            await self.close_for(INVALID_PAYLOAD)
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs) -> None:
        await self.send_json({"type": "echo", "content": content})

    async def close_for(self, code: int) -> None:
        await self.stop_ticking()
        await self.close(code=code)

    async def stop_ticking(self) -> None:
        ticker = getattr(self, "ticker", None)
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker  # an error it died of is raised here, not lost

    async def disconnect(self, code) -> None:
        await self.stop_ticking()
