"""In-memory adapters for the domain ports: a transactional unit of work, a recording job queue, a blob store.

`FakeDatabase` holds the committed rows; each `FakeUnitOfWork` works on copies (an identity map per transaction),
so a rollback, or leaving without commit, leaves the database as it was, and a commit writes only the fields that
changed, like an ORM's UPDATE, and an insert of an existing key is a Conflict. `get_for_update` and `lock` take
locks (per row, per name) held until the transaction ends.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Self

from domain.artifact_keys import check_key, key_for
from domain.enums import SortDirection
from domain.errors import Conflict, InvalidInput, NotFound
from domain.model import Project
from domain.paging import Between, ListQuery, Page
from domain.ports import UnitOfWork

REPOSITORIES = tuple(name for name, kind in UnitOfWork.__annotations__.items() if str(kind).startswith("Repository"))
# Rows without an `id` column are keyed by their primary key's columns.
COMPOSITE_KEYS = {"members": ("project_id", "user_id"), "dependencies": ("task_id", "depends_on_id")}


def row_key(repo: str, entity: Any) -> Any:
    fields = COMPOSITE_KEYS.get(repo)
    return tuple(getattr(entity, f) for f in fields) if fields else entity.id


class FakeDatabase:
    """Committed state: per repository, key -> a private copy of the row."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[Any, Any]] = {name: {} for name in REPOSITORIES}
        self.locks: dict[Any, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.commits = 0

    def rows(self, repo: str) -> list[Any]:
        """Copies of the committed rows, for assertions."""
        return [copy.deepcopy(e) for e in self.tables[repo].values()]

    def put(self, repo: str, *entities: Any) -> None:
        """Seed committed rows directly (test setup)."""
        for entity in entities:
            self.tables[repo][row_key(repo, entity)] = copy.deepcopy(entity)

    def __call__(self) -> FakeUnitOfWork:
        """The `Deps.uow` factory."""
        return FakeUnitOfWork(self)


def _matches(entity: Any, field: str, value: Any) -> bool:
    actual = getattr(entity, field)
    if isinstance(value, Between):
        return (value.low is None or actual >= value.low) and (value.high is None or actual <= value.high)
    if isinstance(value, (tuple, list, frozenset)):
        return actual in value
    return actual == value


class FakeRepository:
    """The Repository port over one table of a FakeDatabase, inside one FakeUnitOfWork."""

    def __init__(self, uow: FakeUnitOfWork, name: str):
        self.uow = uow
        self.name = name
        self.table = uow.db.tables[name]
        self.loaded: dict[Any, Any] = {}  # key -> the copy this transaction works on
        self.originals: dict[Any, Any] = {}  # key -> the committed row as it was loaded
        self.added: set[Any] = set()
        self.deleted: set[Any] = set()

    def _load(self, key: Any) -> Any | None:
        if key in self.deleted:
            return None
        if key not in self.loaded:
            if key not in self.table:
                return None
            self.originals[key] = copy.deepcopy(self.table[key])
            self.loaded[key] = copy.deepcopy(self.table[key])
        return self.loaded[key]

    def _all(self) -> list[Any]:
        keys = list(self.table) + [k for k in self.loaded if k not in self.table]
        return [e for e in (self._load(k) for k in keys) if e is not None]

    def _check_field(self, field: str, entity_type: str = "filter") -> None:
        sample = next(iter(self.table.values()), None) or next(iter(self.loaded.values()), None)
        if sample is not None and field not in {f.name for f in dataclasses.fields(sample)}:
            raise InvalidInput(f"cannot {entity_type} by {field}", field=field)

    async def get(self, entity_id: Any) -> Any | None:
        return None if entity_id is None else self._load(entity_id)

    async def get_for_update(self, entity_id: Any) -> Any | None:
        await self.uow.hold((self.name, entity_id))
        entity = self._load(entity_id)
        if entity is not None and entity_id in self.table and entity_id not in self.added:
            # Like SELECT ... FOR UPDATE with populate_existing: the row as committed now, not as first read.
            fresh = self.table[entity_id]
            self.originals[entity_id] = copy.deepcopy(fresh)
            for f in dataclasses.fields(fresh):
                setattr(entity, f.name, copy.deepcopy(getattr(fresh, f.name)))
        return entity

    async def get_many(self, ids: Iterable[Any]) -> list[Any]:
        return [e for e in (self._load(i) for i in dict.fromkeys(ids)) if e is not None]

    async def find(self, **equals: Any) -> list[Any]:
        return [e for e in self._all() if all(getattr(e, k) == v for k, v in equals.items())]

    async def find_one(self, **equals: Any) -> Any | None:
        return next(iter(await self.find(**equals)), None)

    async def find_in(self, field: str, values: Iterable[Any]) -> list[Any]:
        wanted = set(values)
        return [e for e in self._all() if getattr(e, field) in wanted]

    async def _member_projects(self, user_id: Any) -> set[Any]:
        return {m.project_id for m in await self.uow.members.find(user_id=user_id)}

    async def list(self, query: ListQuery) -> Page[Any]:
        return await self._page(query, self._all())

    async def list_by(self, field: str, keys: Sequence[Any], query: ListQuery) -> dict[Any, Page[Any]]:
        rows = self._all()
        return {key: await self._page(query, [e for e in rows if getattr(e, field) == key]) for key in keys}

    def read_only(self) -> Any:
        return self

    async def count_by(self, field: str, keys: Sequence[Any], query: ListQuery) -> dict[Any, int]:
        pages = await self.list_by(field, keys, query)
        return {key: page.total for key, page in pages.items() if page.total}

    async def sum_by(self, group_field: str, keys: Sequence[Any], fields: Sequence[str]) -> dict[Any, dict[str, Any]]:
        sums: dict[Any, dict[str, Any]] = {}
        for entity in await self.find_in(group_field, keys):
            group = sums.setdefault(getattr(entity, group_field), dict.fromkeys(fields, 0))
            for f in fields:
                group[f] += getattr(entity, f) or 0
        return sums

    async def _page(self, query: ListQuery, rows: list[Any]) -> Page[Any]:
        for name, value in query.filters:
            self._check_field(name)
            rows = [e for e in rows if _matches(e, name, value)]
        if query.member_id is not None:
            projects = await self._member_projects(query.member_id)
            rows = [e for e in rows if (e.id if isinstance(e, Project) else e.project_id) in projects]
        self._check_field(query.order_by, "order")
        present = [e for e in rows if getattr(e, query.order_by) is not None]
        absent = [e for e in rows if getattr(e, query.order_by) is None]
        descending = query.direction is SortDirection.DESC
        present.sort(key=lambda e: (getattr(e, query.order_by), str(e.id)), reverse=descending)
        absent.sort(key=lambda e: str(e.id), reverse=descending)
        ordered = present + absent if not descending else absent + present  # NULLS LAST asc, NULLS FIRST desc
        total, page = len(ordered), query.page
        lo = page.after + 1 if page.after is not None else 0
        hi = total if page.before is None else min(total, page.before)
        if page.first is not None:
            hi = min(hi, lo + page.first)
        elif page.last is not None:
            lo = max(lo, hi - page.last)
        elif page.before is None:
            hi = min(hi, lo + page.size)
        offsets = list(range(lo, max(lo, hi)))
        return Page(
            items=[ordered[o] for o in offsets],
            offsets=offsets,
            total=total,
            has_previous=offsets[0] > 0 if offsets else lo > 0 and total > 0,
            has_next=offsets[-1] < total - 1 if offsets else lo < total,
        )

    def add(self, entity: Any) -> None:
        key = row_key(self.name, entity)
        if self.loaded.get(key) is entity:
            return
        if key in self.deleted:  # deleted, then added again in this transaction: the row is updated
            self.deleted.discard(key)
        else:
            self.added.add(key)
        self.loaded[key] = entity

    async def delete(self, entity: Any) -> None:
        key = row_key(self.name, entity)
        if self._load(key) is None:
            raise NotFound(self.name, key)
        self.loaded.pop(key, None)
        self.added.discard(key)
        self.deleted.add(key)

    def duplicates(self) -> list[Any]:
        """Keys this transaction inserts that a committed row already has (a unique-key violation)."""
        return [key for key in self.added if key in self.table]

    def write(self) -> None:
        """Apply this transaction's changes to the committed table: inserts, changed fields, deletes."""
        for key in self.deleted:
            self.table.pop(key, None)
        for key, entity in self.loaded.items():
            committed, original = self.table.get(key), self.originals.get(key)
            if key in self.added or committed is None or original is None:
                self.table[key] = copy.deepcopy(entity)
                self.originals[key] = copy.deepcopy(entity)
                continue
            for f in dataclasses.fields(entity):
                value = getattr(entity, f.name)
                if value != getattr(original, f.name):
                    setattr(committed, f.name, copy.deepcopy(value))
            self.originals[key] = copy.deepcopy(committed)
        self.added.clear()
        self.deleted.clear()

    def forget(self) -> None:
        self.loaded.clear()
        self.originals.clear()
        self.added.clear()
        self.deleted.clear()


class FakeUnitOfWork:
    """The UnitOfWork port in memory: nothing reaches the FakeDatabase before `commit`."""

    def __init__(self, db: FakeDatabase):
        self.db = db
        self.held: list[asyncio.Lock] = []
        self.committed = False
        for name in REPOSITORIES:
            setattr(self, name, FakeRepository(self, name))

    def _repos(self) -> list[FakeRepository]:
        return [getattr(self, name) for name in REPOSITORIES]

    async def hold(self, name: Any) -> None:
        """Wait for the lock called `name` and keep it until this transaction ends."""
        lock = self.db.locks[name]
        if lock not in self.held:
            await lock.acquire()
            self.held.append(lock)

    def begin_write(self) -> None:
        """Nothing to do: like PostgreSQL, the fake guards its checks with row and named locks."""

    async def lock(self, name: str) -> None:
        await self.hold(("named", name))

    def _release(self) -> None:
        while self.held:
            self.held.pop().release()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.rollback()  # like closing a session: whatever was not committed is gone

    async def commit(self) -> None:
        for repo in self._repos():
            if duplicate := repo.duplicates():
                await self.rollback()
                raise Conflict(f"{repo.name} {duplicate[0]} already exists")
        for repo in self._repos():
            repo.write()
        self.db.commits += 1
        self.committed = True
        self._release()

    async def rollback(self) -> None:
        for repo in self._repos():
            repo.forget()
        self._release()

    async def flush(self) -> None:
        """Ids are assigned when entities are built; there is nothing to send early."""


class RecordingJobQueue:
    """The JobQueue port: remembers what was enqueued and cancelled, runs nothing."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[uuid.UUID, str]] = []
        self.cancelled: list[uuid.UUID] = []

    async def enqueue(self, job_id: uuid.UUID, kind: str) -> None:
        self.enqueued.append((job_id, kind))

    async def cancel(self, job_id: uuid.UUID) -> None:
        self.cancelled.append(job_id)


class MemoryArtifactStore:
    """The ArtifactStore port in a dict, content-addressed like the real stores."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    async def put(self, content: bytes, *, content_type: str = "text/plain") -> str:
        key = key_for(content)
        self.blobs[key] = content
        return key

    async def get(self, key: str) -> bytes:
        check_key(key)
        if key not in self.blobs:
            raise NotFound("Artifact", key)
        return self.blobs[key]

    async def exists(self, key: str) -> bool:
        return check_key(key) is not None and key in self.blobs
