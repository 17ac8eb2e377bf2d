"""Value types of the AI chat that the services hand to the schema."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from domain.model import ChatMessage


@dataclass(frozen=True)
class ChatUpdate:
    """What a follower of a conversation receives: SNAPSHOT (the latest message when it subscribed, if any),
    DELTA (text appended to a streaming reply, `index` counting from 0 per message) or MESSAGE (a message as stored)."""

    kind: str
    message_id: uuid.UUID | None
    index: int | None = None
    delta: str | None = None
    message: ChatMessage | None = None
