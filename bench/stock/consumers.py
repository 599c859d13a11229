"""The Channels tutorial's chat consumer, plus login required, speaking our frames.

As in the tutorial: `AsyncWebsocketConsumer`, one group per room, `group_send`
of the raw fields and `json.dumps` in the handler, once per recipient. Nothing is
stored (no seq, no history). The only changes: an anonymous user is refused,
and frames use the shapes of docs/protocol.md so the same load generator drives
every server.
"""

import json

from channels.generic.websocket import AsyncWebsocketConsumer

BROADCAST_GROUP = "notifications"


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        if not self.scope["user"].is_authenticated:
            await self.close()
            return
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = f"chat_{self.room_name}"
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, close_code):
        if hasattr(self, "room_group_name"):
            await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        data = json.loads(text_data)
        if data.get("type") == "ping":
            await self.send(text_data=json.dumps({"type": "pong"}))
            return
        if data.get("type") != "send":
            return
        user = self.scope["user"]
        await self.channel_layer.group_send(
            self.room_group_name,
            {
                "type": "chat.message",
                "body": data["body"],
                "client_id": data.get("client_id"),
                "author": {"id": user.pk, "username": user.username},
            },
        )

    async def chat_message(self, event):
        await self.send(
            text_data=json.dumps(
                {
                    "type": "message",
                    "message": {
                        "room": self.room_name,
                        "author": event["author"],
                        "body": event["body"],
                        "client_id": event["client_id"],
                    },
                }
            )
        )


class NotificationConsumer(AsyncWebsocketConsumer):
    """Tutorial-style broadcast: every socket joins one group."""

    async def connect(self):
        if not self.scope["user"].is_authenticated:
            await self.close()
            return
        await self.channel_layer.group_add(BROADCAST_GROUP, self.channel_name)
        self.joined = True
        await self.accept()

    async def disconnect(self, close_code):
        if getattr(self, "joined", False):
            await self.channel_layer.group_discard(BROADCAST_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        data = json.loads(text_data)
        if data.get("type") == "ping":
            await self.send(text_data=json.dumps({"type": "pong"}))

    async def notify(self, event):
        await self.send(
            text_data=json.dumps(
                {"type": "notification", "notification": {"title": event["title"]}}
            )
        )
