"""Reading the audit log: super admins only, filtered and paged."""

from __future__ import annotations

import uuid

from domain.model import AuditEntry
from domain.paging import ListQuery, Page
from domain.permissions import Permission, Viewer
from domain.services.access import load
from domain.services.base import Deps


class AuditService:
    def __init__(self, deps: Deps):
        self.deps = deps

    async def list(self, viewer: Viewer, query: ListQuery) -> Page[AuditEntry]:
        viewer.require(Permission.AUDIT_READ)
        async with self.deps.uow() as uow:
            return await uow.audit.list(query)

    async def get(self, viewer: Viewer, entry_id: uuid.UUID) -> AuditEntry:
        viewer.require(Permission.AUDIT_READ)
        async with self.deps.uow() as uow:
            return await load(uow.audit, "AuditEntry", entry_id)
