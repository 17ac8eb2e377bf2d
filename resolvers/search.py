"""Project search: GraphQL arguments to the search use case, and each hit's node through the DataLoaders."""

from __future__ import annotations

from typing import Any

from domain import repos
from domain.repos import Repo
from domain.search import SearchHit, SearchKind
from resolvers.context import RequestContext
from resolvers.ids import decode_id, to_global_id

# Where each kind's node is loaded from; a new kind adds its entry here (its type joins schema/search.py's union).
NODE_REPOS: dict[SearchKind, Repo[Any]] = {
    SearchKind.REQUIREMENT: repos.REQUIREMENTS,
    SearchKind.PRD: repos.PRDS,
    SearchKind.TASK: repos.TASKS,
    SearchKind.ARTIFACT: repos.ARTIFACTS,
    SearchKind.CONVERSATION: repos.CONVERSATIONS,
}


async def search(
    ctx: RequestContext, project_id: str, text: str, kinds: list[SearchKind] | None, first: int
) -> list[SearchHit]:
    return await ctx.services.search.search(
        ctx.viewer, decode_id(project_id, "Project", "projectId"), text, kinds, first
    )


def node_id(hit: SearchHit) -> str:
    return to_global_id(NODE_REPOS[hit.kind].entity, hit.entity_id)


async def node(ctx: RequestContext, hit: SearchHit) -> Any:
    """The hit's object as the viewer may see it now (None if it went away since the search)."""
    return await ctx.loaders.by_id(NODE_REPOS[hit.kind]).load(hit.entity_id)
