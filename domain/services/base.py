"""What every service needs (ports) and the transaction that commits, audits, then publishes."""

from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from domain import status as machines
from domain.errors import Forbidden, Unauthenticated
from domain.events import DomainEvent
from domain.model import AuditEntry
from domain.permissions import Viewer
from domain.ports import ArtifactStore, Clock, CompiledReader, EventBus, JobQueue, UnitOfWork
from domain.repos import Repo


class _Entity(Protocol):
    id: uuid.UUID


class _Stamped(_Entity, Protocol):
    updated_at: datetime | None


E = TypeVar("E", bound=_Entity)
M = TypeVar("M", bound=_Stamped)
S = TypeVar("S", bound=enum.Enum)

SECRET_FIELDS = frozenset({"password_hash", "api_key_encrypted", "value_encrypted"})


# Reacts, inside the same transaction and before it commits, to an event a change emitted (e.g. a pipeline run
# advancing when its deployment or test job ends): the reaction commits with the change or not at all.
Reaction = Callable[["Tx", DomainEvent], Awaitable[None]]
MAX_REACTION_ROUNDS = 10


@dataclass
class Deps:
    uow: Callable[[], UnitOfWork]
    bus: EventBus
    clock: Clock
    queue: JobQueue | None = None
    store: ArtifactStore | None = None
    compiled: CompiledReader | None = None  # None: every read goes through the generic resolvers
    reactions: list[Reaction] = field(default_factory=list)


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def snapshot(entity: Any) -> dict[str, Any]:
    """A JSON-safe copy of an entity's fields, without secrets (for audit before/after)."""
    return {f.name: _plain(getattr(entity, f.name)) for f in dataclasses.fields(entity) if f.name not in SECRET_FIELDS}


class Tx:
    """`async with Tx(deps, viewer) as tx`: commits on success, then publishes collected events.

    Audit rows are written in the same transaction as the change; a refused
    (Forbidden) attempt is audited in its own transaction after the rollback.
    A write transaction: what it checks must be read with `load(..., for_update=True)` (or under `uow.lock`)
    so that a concurrent request waits instead of checking the same stale state.
    """

    def __init__(self, deps: Deps, viewer: Viewer, action: str | None = None):
        self.deps = deps
        self.viewer = viewer
        self.action = action
        self.events: list[DomainEvent] = []
        self.after_commit: list[Callable[[], Awaitable[Any]]] = []
        self.uow: UnitOfWork

    async def __aenter__(self) -> Tx:
        self.uow = self.deps.uow()
        await self.uow.__aenter__()
        self.uow.begin_write()
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            if exc is None:
                await self._react()
                await self.uow.commit()
            else:
                await self.uow.rollback()
        finally:
            await self.uow.__aexit__(exc_type, exc, tb)
        if exc is None:
            # After-commit actions first: a subscriber reacting to an event must find them done (a password change's
            # kept sign-in is recorded before `password_changed` makes live sessions recheck themselves).
            for action in self.after_commit:
                await action()
            for event in self.events:
                await self.deps.bus.publish(event)
        elif isinstance(exc, (Forbidden, Unauthenticated)) and self.action:
            await self._audit_refusal(exc)

    async def _react(self) -> None:
        """Every reaction sees every event of this transaction, also the ones reactions emit (a few rounds deep)."""
        if not self.deps.reactions:
            return
        seen = 0
        for _ in range(MAX_REACTION_ROUNDS):
            fresh = self.events[seen:]
            if not fresh:
                return
            seen = len(self.events)
            for event in fresh:
                for react in self.deps.reactions:
                    await react(self, event)
        raise RuntimeError(f"reactions still emitting events after {MAX_REACTION_ROUNDS} rounds")

    async def _audit_refusal(self, exc: Exception) -> None:
        async with self.deps.uow() as uow:
            uow.audit.add(
                self._entry(
                    self.action or "unknown", "authorization", None, None, {"error": str(exc)}, outcome="DENIED"
                )
            )
            await uow.commit()

    def now(self) -> datetime:
        return self.deps.clock.now()

    def _entry(
        self, action: str, entity_type: str, entity_id: Any, before: Any, after: Any, outcome: str = "OK"
    ) -> AuditEntry:
        return AuditEntry(
            action=action,
            entity_type=entity_type,
            outcome=outcome,
            actor_id=self.viewer.user_id,
            entity_id=str(entity_id) if entity_id is not None else None,
            before=before,
            after=after,
            request_id=self.viewer.request_id,
            client_address=self.viewer.client_address,
            at=self.now(),
        )

    def audit(self, action: str, entity_type: str, entity_id: Any, before: Any = None, after: Any = None) -> None:
        before = snapshot(before) if dataclasses.is_dataclass(before) else before
        after = snapshot(after) if dataclasses.is_dataclass(after) else after
        self.uow.audit.add(self._entry(action, entity_type, entity_id, before, after))

    def emit(
        self,
        entity_type: str,
        entity_id: Any,
        action: str,
        *,
        project_id: Any = None,
        old_status: Any = None,
        new_status: Any = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.events.append(
            DomainEvent(
                entity_type=entity_type,
                entity_id=str(entity_id),
                action=action,
                at=self.now(),
                project_id=str(project_id) if project_id else None,
                old_status=_plain(old_status),
                new_status=_plain(new_status),
                actor_id=str(self.viewer.user_id) if self.viewer.user_id else None,
                data=_plain(data or {}),
            )
        )

    def created(
        self,
        repo: Repo[E],
        entity: E,
        action: str,
        *,
        project_id: Any,
        new_status: Any,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Add `entity`, audit `action` with its snapshot and announce it `created`."""
        repo.of(self.uow).add(entity)
        self.audit(action, repo.entity, entity.id, None, entity)
        self.emit(repo.entity, entity.id, "created", project_id=project_id, new_status=new_status, data=data)

    def updated(self, repo: Repo[Any], entity: Any, before: dict[str, Any], action: str, *, project_id: Any) -> None:
        """Stamp `entity` (a project, requirement or task) updated now, audit `action` from `before` to its
        snapshot and announce it `updated` with its status."""
        entity.updated_at = self.now()
        self.audit(action, repo.entity, entity.id, before, entity)
        self.emit(repo.entity, entity.id, "updated", project_id=project_id, new_status=entity.status)

    async def deleted(self, repo: Repo[E], entity: E, action: str, *, project_id: Any, old_status: Any = None) -> None:
        """Audit `action` with the entity's last snapshot, delete it and announce it `deleted`."""
        self.audit(action, repo.entity, entity.id, entity, None)
        await repo.of(self.uow).delete(entity)
        self.emit(repo.entity, entity.id, "deleted", project_id=project_id, old_status=old_status)

    def moved(
        self,
        machine: Mapping[S, frozenset[S]],
        repo: Repo[M],
        entity: M,
        new_status: S,
        *,
        action: str,
        project_id: Any,
        noun: str | None = None,
        field: str = "status",
        audit_key: str = "status",
        audit_after: dict[str, Any] | None = None,
        event: str = "status_changed",
        data: dict[str, Any] | None = None,
    ) -> S:
        """Move `entity.<field>` to `new_status` if `machine` allows it (else InvalidInput naming `noun`), stamp
        updated_at, audit `action` as {audit_key: old} -> {audit_key: new, **audit_after}, announce `event` (with
        `data` for subscribers).

        Returns the old status; timestamps of one entity only (completed_at, started_at...) stay with the caller.
        """
        old: S = getattr(entity, field)
        machines.check_transition(machine, noun or repo.entity.lower(), old, new_status)
        setattr(entity, field, new_status)
        entity.updated_at = self.now()
        after = {audit_key: new_status.value, **(audit_after or {})}
        self.audit(action, repo.entity, entity.id, {audit_key: old.value}, after)
        self.emit(
            repo.entity, entity.id, event, project_id=project_id, old_status=old, new_status=new_status, data=data
        )
        return old
