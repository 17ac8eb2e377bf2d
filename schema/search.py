"""The `search` query: ranked, highlighted hits over a project's requirements, PRDs, tasks, artifacts and
conversations."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.search import MAX_RESULTS, SearchHit, SearchKind
from resolvers import search
from resolvers.context import RequestContext
from schema.chat import ConversationNode
from schema.pipeline_types import PrdNode
from schema.types import ArtifactNode, RequirementNode, TaskNode

strawberry.enum(SearchKind, description="What project search looks through.")

SearchNode = Annotated[
    RequirementNode | PrdNode | TaskNode | ArtifactNode | ConversationNode,
    strawberry.union("SearchNode", description="The object a search hit is about."),
]


@strawberry.type(name="SearchHit", description="One search result; `snippet` marks each match as «match».")
class SearchHitNode:
    kind: SearchKind
    title: str = strawberry.field(description="The object's title (file path for an artifact), unmarked.")
    snippet: str = strawberry.field(
        description="Text around the best matches, each match wrapped in « and », cut text marked with …."
    )
    rank: float = strawberry.field(description="Relevance, higher is better; comparable within one search only.")

    @strawberry.field(description="Global id of the object.")
    def id(self, root: strawberry.Parent[SearchHit]) -> strawberry.ID:
        return strawberry.ID(search.node_id(root))

    @strawberry.field(description="The object, as the viewer may see it now (null if deleted since).")
    async def node(self, root: strawberry.Parent[SearchHit], info: Info[RequestContext, None]) -> SearchNode | None:
        return await search.node(info.context, root)


@strawberry.type
class SearchQuery:
    @strawberry.field(
        description="Full-text search in one project (members and super admins). `text` takes web-search syntax: "
        'words must all match, "quoted words" match as a phrase, OR between terms, -word excludes. '
        "A conversation matches when its title or one of its messages does, and comes once. "
        f"At most {MAX_RESULTS} hits, best first."
    )
    async def search(
        self,
        info: Info[RequestContext, None],
        project_id: strawberry.ID,
        text: str,
        kinds: list[SearchKind] | None = None,
        first: int = 20,
    ) -> list[SearchHitNode]:
        hits: list[Any] = await search.search(info.context, project_id, text, kinds, first)
        return hits
