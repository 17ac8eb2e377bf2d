"""Project search: a member's (or super admin's) ranked, highlighted hits over the project's searchable kinds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from domain.errors import InvalidInput, ServiceUnavailable
from domain.permissions import Permission, Viewer
from domain.ports import SearchIndex
from domain.search import MAX_RESULTS, SearchHit, SearchKind, any_word_query, parse_query
from domain.services.access import load, require_member
from domain.services.base import Deps


class SearchService:
    def __init__(self, deps: Deps, index: SearchIndex | None):
        self.deps = deps
        self.index = index

    async def search(
        self,
        viewer: Viewer,
        project_id: uuid.UUID,
        text: str,
        kinds: Sequence[SearchKind] | None = None,
        first: int = 20,
        *,
        any_word: bool = False,
    ) -> list[SearchHit]:
        """Hits in `project_id` for `text` (search syntax, see domain.search.parse_query; with `any_word`, any of
        its words, e.g. a chat question), of `kinds` (default: all), best first."""
        viewer.require(Permission.REQUIREMENT_READ)
        if not 1 <= first <= MAX_RESULTS:
            raise InvalidInput(f"first must be between 1 and {MAX_RESULTS}", field="first")
        if kinds is not None and not kinds:
            raise InvalidInput("kinds must name at least one kind (or be left out for all)", field="kinds")
        terms = any_word_query(text) if any_word else parse_query(text)
        async with self.deps.uow() as uow:
            await load(uow.projects, "Project", project_id)
            await require_member(uow, viewer, project_id)
        if self.index is None:
            raise ServiceUnavailable("search is not configured")
        wanted = list(dict.fromkeys(kinds)) if kinds is not None else list(SearchKind)
        return await self.index.search(project_id, terms, wanted, first)
