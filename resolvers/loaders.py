"""Per-request DataLoaders: every relation is one batched query per distinct argument set."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from domain.paging import ListQuery, Page
from domain.permissions import Viewer
from domain.repos import Repo
from domain.services.bundle import Services

T = TypeVar("T")


class Loaders:
    def __init__(self, services: Services, viewer: Viewer):
        self.services = services
        self.viewer = viewer
        self._loaders: dict[tuple, DataLoader] = {}

    def _get(self, key: tuple, load_fn) -> DataLoader:
        loader = self._loaders.get(key)
        if loader is None:
            loader = self._loaders[key] = DataLoader(load_fn=load_fn)
        return loader

    def by_id(self, repo: Repo[Any]) -> DataLoader[Any, Any]:
        """Entity (or None) by primary key."""

        async def load(ids: Sequence[Any]) -> list[Any]:
            found = await self.services.reads.by_ids(self.viewer, repo, list(ids))
            return [found.get(i) for i in ids]

        return self._get(("id", repo), load)

    def page_of(self, repo: Repo[T], field: str, query: ListQuery) -> DataLoader[Any, Page[T]]:
        """A connection page of `repo` rows per value of `field` (e.g. requirements per project_id)."""

        async def load(keys: Sequence[Any]) -> list[Page[T]]:
            pages = await self.services.reads.pages_by(self.viewer, repo, field, list(keys), query)
            return [pages.get(k, Page.empty()) for k in keys]

        return self._get(("page", repo, field, query), load)

    def count_of(self, repo: Repo[T], field: str, query: ListQuery) -> DataLoader[Any, Page[T]]:
        """Like `page_of` for a connection asked for its `totalCount` only: one COUNT, no rows."""

        async def load(keys: Sequence[Any]) -> list[Page[T]]:
            totals = await self.services.reads.counts_by(self.viewer, repo, field, list(keys), query)
            return [Page.counted(totals[k]) for k in keys]

        return self._get(("count", repo, field, query), load)

    def all_of(self, repo: Repo[T], field: str) -> DataLoader[Any, list[T]]:
        """Every `repo` row per value of `field` (small fan-outs such as task dependencies)."""

        async def load(keys: Sequence[Any]) -> list[list[T]]:
            grouped: dict[Any, list[T]] = defaultdict(list)
            for row in await self.services.reads.find_in(self.viewer, repo, field, list(keys)):
                grouped[getattr(row, field)].append(row)
            return [grouped.get(k, []) for k in keys]

        return self._get(("all", repo, field), load)

    def sums_of(self, repo: Repo[Any], field: str, columns: tuple[str, ...]) -> DataLoader[Any, dict[str, Any]]:
        """Column totals of `repo` rows per value of `field`."""

        async def load(keys: Sequence[Any]) -> list[dict[str, Any]]:
            totals = await self.services.reads.sums(self.viewer, repo, field, list(keys), columns)
            return [totals[k] for k in keys]

        return self._get(("sums", repo, field, columns), load)
