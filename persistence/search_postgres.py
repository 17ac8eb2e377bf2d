"""The search index on PostgreSQL: a weighted tsvector with a GIN index, ranked by ts_rank, ts_headline snippets."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.search import HIGHLIGHT_END, HIGHLIGHT_START, Phrase, SearchHit, SearchKind, SearchTerms
from persistence.search_schema import PG_CONFIG, TABLE

HEADLINE = (
    f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_END}, MaxWords=30, MinWords=12, MaxFragments=2, "
    'FragmentDelimiter=" … "'
)


def tsquery_expression(terms: SearchTerms) -> tuple[str, dict[str, Any]]:
    """SQL composing `terms` from phraseto_tsquery with && || !! (which never raise on any text), and its params.

    The web-search syntax is parsed once in domain.search so that both backends group OR and NOT alike."""
    params: dict[str, Any] = {}

    def phrase(words: Phrase) -> str:
        name = f"w{len(params)}"
        params[name] = " ".join(words)
        return f"phraseto_tsquery('{PG_CONFIG}', :{name})"

    def any_of(phrases: Sequence[Phrase]) -> str:
        return "(" + " || ".join(phrase(p) for p in phrases) + ")"

    query = "(" + " && ".join(any_of(clause) for clause in terms.clauses) + ")"
    if terms.excluded:
        query = f"({query} && !!{any_of(terms.excluded)})"
    return query, params


class PostgresSearchIndex:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    async def search(
        self, project_id: uuid.UUID, terms: SearchTerms, kinds: Sequence[SearchKind], first: int
    ) -> list[SearchHit]:
        query, params = tsquery_expression(terms)
        # The tsquery is written out (not joined from a CTE) so that the planner can use the GIN index with it.
        statement = text(
            f"WITH hits AS (SELECT d.kind, d.entity_id, d.title, d.body, ts_rank(d.document, {query}) AS rank "
            f"FROM {TABLE} d WHERE d.project_id = :project_id AND d.kind IN :kinds AND d.document @@ {query} "
            "ORDER BY rank DESC, d.kind, d.entity_id LIMIT :first) "
            f"SELECT kind, entity_id, title, ts_headline('{PG_CONFIG}', title || ' — ' || body, {query}, :headline) "
            "AS snippet, rank FROM hits ORDER BY rank DESC, kind, entity_id"
        ).bindparams(bindparam("kinds", expanding=True))
        params |= {"project_id": project_id, "kinds": [k.value for k in kinds], "first": first, "headline": HEADLINE}
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement, params)).all()
        return [
            SearchHit(SearchKind(r.kind), uuid.UUID(str(r.entity_id)), r.title, r.snippet, float(r.rank)) for r in rows
        ]
