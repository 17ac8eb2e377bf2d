"""Domain events: what changed, published after the change commits."""

from __future__ import annotations

import enum
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DomainEvent:
    """A status or content change of one entity, scoped to a project (if any)."""

    entity_type: str
    entity_id: str
    action: str
    at: datetime
    project_id: str | None = None
    old_status: str | None = None
    new_status: str | None = None
    actor_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["at"] = self.at.isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DomainEvent:
        return cls(**{**d, "at": datetime.fromisoformat(d["at"])})


def entity_topic(entity_type: str, entity_id: str) -> str:
    return f"{entity_type}:{entity_id}"


def project_topic(project_id: str) -> str:
    return f"project:{project_id}"


def topics_of(event: DomainEvent) -> list[str]:
    """Every topic an event is delivered on: its entity, and its project."""
    topics = [entity_topic(event.entity_type, event.entity_id)]
    if event.project_id:
        topics.append(project_topic(event.project_id))
    return topics


class SubscriberOverflow(Exception):
    """A subscriber fell too far behind; its subscription ends so it cannot slow anyone else."""

    def __init__(self, pending: int):
        super().__init__(f"subscriber too slow: {pending} events pending")
        self.pending = pending


class EventsMissed(Exception):
    """A subscription's events may have been lost (the broker connection dropped): its subscriber must refetch."""


class AccessLost(enum.Enum):
    """Why a live subscription's viewer may no longer follow what it follows."""

    SIGNED_OUT = "signed_out"  # the sign-in ended, or no longer grants it: sign in again
    REMOVED = "removed"  # the viewer no longer may see it (membership removed, project deleted)


class AccessEnded(Exception):
    """A live subscription ends because its viewer's access did (`why`); `reason` says what happened."""

    def __init__(self, why: AccessLost, reason: str):
        super().__init__(reason)
        self.why = why
        self.reason = reason
