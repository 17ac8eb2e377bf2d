"""The search index on SQLite: FTS5 over search_index, ranked by bm25, snippets from FTS5's snippet()."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.search import ELLIPSIS, HIGHLIGHT_END, HIGHLIGHT_START, Phrase, SearchHit, SearchKind, SearchTerms
from persistence.search_schema import FTS_TABLE, NODE_ID, NODE_KIND, TABLE, index_kinds

TITLE_WEIGHT, BODY_WEIGHT = 4.0, 1.0
SNIPPET_TOKENS = 24

# Each object once: its best-ranked row (a conversation's title or one of its messages), titled by the object's own
# row. Ranks first, snippets for the kept rows only (a snippet costs more than a rank); MATERIALIZED keeps bm25()
# in the query that runs the MATCH.
_QUERY = text(
    f"WITH matched AS MATERIALIZED (SELECT coalesce(d.{NODE_KIND}, d.kind) AS kind, "
    f"coalesce(d.{NODE_ID}, d.entity_id) AS entity_id, d.{NODE_KIND} AS node_kind, d.id AS row_id, "
    f"-bm25({FTS_TABLE}, {TITLE_WEIGHT}, {BODY_WEIGHT}) AS rank "
    f"FROM {FTS_TABLE} JOIN {TABLE} d ON d.id = {FTS_TABLE}.rowid "
    f"WHERE {FTS_TABLE} MATCH :match AND d.project_id = :project_id AND d.kind IN :kinds), "
    "best AS (SELECT *, row_number() OVER (PARTITION BY kind, entity_id ORDER BY rank DESC, row_id) AS place "
    "FROM matched), "
    "top AS MATERIALIZED (SELECT * FROM best WHERE place = 1 ORDER BY rank DESC, kind, entity_id LIMIT :first) "
    "SELECT top.kind, top.entity_id, coalesce(own.title, d.title) AS title, "
    f"snippet({FTS_TABLE}, -1, :start, :end, :ellipsis, {SNIPPET_TOKENS}) AS snippet, top.rank "
    f"FROM top CROSS JOIN {FTS_TABLE} ON {FTS_TABLE}.rowid = top.row_id JOIN {TABLE} d ON d.id = top.row_id "
    f"LEFT JOIN {TABLE} own ON top.node_kind IS NOT NULL AND own.kind = top.kind AND own.entity_id = top.entity_id "
    f"WHERE {FTS_TABLE} MATCH :match ORDER BY top.rank DESC, top.kind, top.entity_id"
).bindparams(bindparam("kinds", expanding=True))


def _phrase(words: Phrase) -> str:
    # Words hold letters and digits only (domain.search), so a quoted string is always one valid FTS5 phrase.
    return '"' + " ".join(words) + '"'


def _any(phrases: Sequence[Phrase]) -> str:
    return "(" + " OR ".join(_phrase(p) for p in phrases) + ")"


def match_expression(terms: SearchTerms) -> str:
    """The FTS5 query for `terms`: (clause AND clause ...) NOT (excluded OR ...)."""
    query = "(" + " AND ".join(_any(clause) for clause in terms.clauses) + ")"
    if terms.excluded:
        query += " NOT " + _any(terms.excluded)
    return query


class SqliteSearchIndex:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    async def search(
        self, project_id: uuid.UUID, terms: SearchTerms, kinds: Sequence[SearchKind], first: int
    ) -> list[SearchHit]:
        params = {
            "start": HIGHLIGHT_START,
            "end": HIGHLIGHT_END,
            "ellipsis": ELLIPSIS,
            "match": match_expression(terms),
            "project_id": project_id.hex,
            "kinds": index_kinds(k.value for k in kinds),
            "first": first,
        }
        async with self.engine.connect() as connection:
            rows = (await connection.execute(_QUERY, params)).all()
        return [SearchHit(SearchKind(r.kind), uuid.UUID(r.entity_id), r.title, r.snippet, r.rank) for r in rows]
