"""A consumer as the Channels tutorial writes one: it joins a group of its own on the channel
layer and relays what the group hears. Served behind DoubleTokenAuthMiddleware by tests/asgi.py,
to show that the documented channel-layer setup keeps such a consumer's reader alive."""

from channels.generic.websocket import AsyncWebsocketConsumer

ROOM_GROUP = "tests.room"


class RoomConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.channel_layer.group_add(ROOM_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code) -> None:
        await self.channel_layer.group_discard(ROOM_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        await self.channel_layer.group_send(ROOM_GROUP, {"type": "room.message",
                                                         "text": text_data or ""})

    async def room_message(self, event) -> None:
        await self.send(text_data=event["text"])
