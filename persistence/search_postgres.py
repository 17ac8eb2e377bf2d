"""The search index on PostgreSQL: a weighted tsvector with a GIN index, ranked by ts_rank, ts_headline snippets."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.search import HIGHLIGHT_END, HIGHLIGHT_START, Phrase, SearchHit, SearchKind, SearchTerms
from persistence.search_schema import NODE_ID, NODE_KIND, PG_CONFIG, TABLE, index_kinds

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
        # Each object once: its best-ranked row (a conversation's title or one of its messages), titled by its own row.
        statement = text(
            f"WITH matched AS (SELECT DISTINCT ON (1, 2) coalesce(d.{NODE_KIND}, d.kind) AS kind, "
            f"coalesce(d.{NODE_ID}, d.entity_id) AS entity_id, d.{NODE_KIND} AS node_kind, d.title, d.body, "
            f"ts_rank(d.document, {query}) AS rank FROM {TABLE} d WHERE d.project_id = :project_id "
            f"AND d.kind IN :kinds AND d.document @@ {query} "
            "ORDER BY 1, 2, rank DESC, d.entity_id), "
            "hits AS (SELECT * FROM matched ORDER BY rank DESC, kind, entity_id LIMIT :first) "
            "SELECT h.kind, h.entity_id, coalesce(own.title, h.title) AS title, ts_headline("
            f"'{PG_CONFIG}', concat_ws(' — ', nullif(h.title, ''), nullif(h.body, '')), {query}, :headline) "
            f"AS snippet, h.rank FROM hits h LEFT JOIN {TABLE} own ON h.node_kind IS NOT NULL "
            "AND own.kind = h.kind AND own.entity_id = h.entity_id ORDER BY h.rank DESC, h.kind, h.entity_id"
        ).bindparams(bindparam("kinds", expanding=True))
        params |= {
            "project_id": project_id,
            "kinds": index_kinds(k.value for k in kinds),
            "first": first,
            "headline": HEADLINE,
        }
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement, params)).all()
        return [
            SearchHit(SearchKind(r.kind), uuid.UUID(str(r.entity_id)), r.title, r.snippet, float(r.rank)) for r in rows
        ]
