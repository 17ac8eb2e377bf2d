"""The search index's database objects: a `search_index` table (one row per searchable entity or part) with FTS5 on
SQLite or a weighted tsvector + GIN on PostgreSQL, and per kind the triggers that keep it in step with its table.

Triggers run inside the writing transaction, for every writer (services, jobs, cascades, hand-written SQL), so
the index is never behind the rows. Migrations call `install_base` once and `install_kind` once per kind; a new
kind is one `KindSpec` and one `install_kind` call in its table's migration. Row expressions are written against
`{r}` (the trigger's NEW row, or the table itself for the backfill), read that row only (SQLite cannot rebuild
a table another table's trigger reads) and hold no ':' (bind-parameter syntax). An object whose text lives in
another table's rows (a conversation's messages) indexes those rows as a part kind (`KindSpec.node`), and search
reports each object once, as its best-ranked row.

A SQLite batch migration that rebuilds an indexed table drops its triggers: call `install_kind` again after it
(tests/integration/test_migrations.py checks every kind's triggers exist at head).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

PREFIX = "search_index"
TABLE = "search_index"
FTS_TABLE = "search_index_fts"
SQLITE_TOKENIZER = "porter unicode61 remove_diacritics 2"
PG_CONFIG = "english"
# A tsvector holds at most 1 MB: the text beyond this many characters is not searchable on PostgreSQL, so that a
# long PRD of distinct tokens cannot make its own write fail.
PG_INDEXED_CHARS = 200_000


def is_search_object(name: str | None) -> bool:
    """Tables, indexes and triggers of the index: not in the models' metadata, so the drift check skips them."""
    return bool(name) and str(name).startswith(PREFIX)


@dataclass(frozen=True)
class KindSpec:
    kind: str
    table: str
    columns: tuple[str, ...]  # a change to any of these re-indexes the row
    title: str  # SQL over {r}, the same on both backends
    body: dict[str, str]  # SQL over {r} per dialect name ("sqlite", "postgresql")
    # A part of another object (a chat message of its conversation): that object's kind and SQL over {r} for its
    # id. Hits on parts are reported as that object (its best-ranked row, with its own row's title); needs the
    # node columns (install_node_columns).
    node: tuple[str, str] | None = None


def _words_of_path(column: str) -> str:
    return f"replace(replace(replace(replace({column}, '/', ' '), '.', ' '), '_', ' '), '-', ' ')"


NODE_KIND, NODE_ID = "node_kind", "node_id"

REQUIREMENT = KindSpec(
    "requirement",
    "requirements",
    ("title", "content"),
    "{r}.title",
    {"sqlite": "{r}.content", "postgresql": "{r}.content"},
)
TASK = KindSpec(
    "task",
    "tasks",
    ("name", "description"),
    "{r}.name",
    {"sqlite": "coalesce({r}.description, '')", "postgresql": "coalesce({r}.description, '')"},
)
PRD = KindSpec(
    "prd",
    "prd_documents",
    ("sections", "version"),
    # A trigger must read only its own row: SQLite refuses to rebuild a table another table's trigger reads.
    "'PRD v' || {r}.version",
    {
        # Every string in the sections (titles, contents, feature names), not the JSON keys.
        "sqlite": "(SELECT coalesce(group_concat(j.value, ' '), '') "
        "FROM json_tree({r}.sections) j WHERE j.type = 'text')",
        "postgresql": "(SELECT coalesce(string_agg(j #>> '{{}}', ' '), '') "
        "FROM jsonb_path_query({r}.sections, 'strict $.**') j WHERE jsonb_typeof(j) = 'string')",
    },
)
ARTIFACT_BODY = (
    "{r}.file_name || ' ' || {r}.language || ' ' || " + _words_of_path("{r}.file_path") + " || ' ' || "
    "coalesce({r}.review_comments, '')"
)
ARTIFACT = KindSpec(
    "artifact",
    "code_artifacts",
    ("file_path", "file_name", "language", "review_comments"),
    "{r}.file_path",
    {"sqlite": ARTIFACT_BODY, "postgresql": ARTIFACT_BODY},
)

CONVERSATION = KindSpec("conversation", "conversations", ("title",), "{r}.title", {"sqlite": "''", "postgresql": "''"})
# Each message is a row of its own (written once, or once more when a reply ends): a trigger reads its own row only,
# and a long conversation never re-indexes its whole text. A conversation matches when its title or one message does.
CHAT_MESSAGE = KindSpec(
    "chat_message",
    "chat_messages",
    ("content",),
    "''",
    {"sqlite": "{r}.content", "postgresql": "{r}.content"},
    node=("conversation", "{r}.conversation_id"),
)


# The FTS5 table holds no copy of the text (content=search_index): its rows follow search_index's by these.
_FTS_FORGET_OLD = (
    f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);"
)
_FTS_ADD_NEW = f"INSERT INTO {FTS_TABLE} (rowid, title, body) VALUES (new.id, new.title, new.body);"


def base_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        columns = "kind VARCHAR(30) NOT NULL, entity_id CHAR(32) NOT NULL, project_id CHAR(32) NOT NULL"
        return [
            (
                f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, {columns}, "
                "title TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (kind, entity_id))"
            ),
            f"CREATE INDEX {TABLE}_project ON {TABLE} (project_id)",
            (
                f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, body, content='{TABLE}', content_rowid='id', "
                f"tokenize='{SQLITE_TOKENIZER}')"
            ),
            f"CREATE TRIGGER {TABLE}_fts_insert AFTER INSERT ON {TABLE} BEGIN {_FTS_ADD_NEW} END",
            f"CREATE TRIGGER {TABLE}_fts_delete AFTER DELETE ON {TABLE} BEGIN {_FTS_FORGET_OLD} END",
            f"CREATE TRIGGER {TABLE}_fts_update AFTER UPDATE ON {TABLE} BEGIN {_FTS_FORGET_OLD} {_FTS_ADD_NEW} END",
        ]
    return [
        (
            f"CREATE TABLE {TABLE} (kind VARCHAR(30) NOT NULL, entity_id UUID NOT NULL, project_id UUID NOT NULL, "
            "title TEXT NOT NULL, body TEXT NOT NULL, "
            f"document TSVECTOR GENERATED ALWAYS AS (setweight(to_tsvector('{PG_CONFIG}', title), 'A') || "
            f"setweight(to_tsvector('{PG_CONFIG}', left(body, {PG_INDEXED_CHARS})), 'B')) STORED, "
            f"CONSTRAINT {TABLE}_pkey PRIMARY KEY (kind, entity_id))"
        ),
        f"CREATE INDEX {TABLE}_document ON {TABLE} USING gin (document)",
        f"CREATE INDEX {TABLE}_project ON {TABLE} (project_id)",
    ]


def kind_statements(spec: KindSpec, dialect: str) -> list[str]:
    """The triggers of one kind (replacing any), then its rows indexed afresh: safe to run again, e.g. after a
    SQLite table rebuild dropped the triggers."""
    name = f"{TABLE}_{spec.kind}"
    title, body = spec.title, spec.body[dialect]
    columns = ", ".join(spec.columns)
    row = "'{kind}', {r}.id, {r}.project_id, " + title + ", " + body
    targets = "kind, entity_id, project_id, title, body"
    if spec.node is not None:  # the node columns exist only from the migration that adds the first part kind
        row += f", '{spec.node[0]}', {spec.node[1]}"
        targets += f", {NODE_KIND}, {NODE_ID}"
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in targets.split(", ")[2:])

    def values(r: str) -> str:
        return row.format(kind=spec.kind, r=r)

    insert = f"INSERT INTO {TABLE} ({targets})"
    remove = f"DELETE FROM {TABLE} WHERE kind = '{spec.kind}' AND entity_id = "
    backfill = [f"DELETE FROM {TABLE} WHERE kind = '{spec.kind}'", f"{insert} SELECT {values('t')} FROM {spec.table} t"]
    drops = drop_kind_statements(spec, dialect)[:-1]
    if dialect == "sqlite":
        return [
            *drops,
            f"CREATE TRIGGER {name}_insert AFTER INSERT ON {spec.table} BEGIN {insert} VALUES ({values('new')}); END",
            (
                f"CREATE TRIGGER {name}_update AFTER UPDATE OF {columns}, project_id ON {spec.table} BEGIN "
                f"{remove}old.id; {insert} VALUES ({values('new')}); END"
            ),
            f"CREATE TRIGGER {name}_delete AFTER DELETE ON {spec.table} BEGIN {remove}old.id; END",
            *backfill,
        ]
    return [
        *drops,
        (
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN "
            f"IF TG_OP = 'DELETE' THEN {remove}OLD.id; RETURN OLD; END IF; "
            f"{insert} VALUES ({values('NEW')}) ON CONFLICT (kind, entity_id) DO UPDATE SET {updates}; "
            "RETURN NEW; END $fn$"
        ),
        (
            f"CREATE TRIGGER {name} AFTER INSERT OR DELETE OR UPDATE OF {columns}, project_id ON {spec.table} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}()"
        ),
        *backfill,
        # Statistics now: until autovacuum gathers them the planner may check every row instead of using GIN.
        f"ANALYZE {TABLE}",
    ]


def drop_kind_statements(spec: KindSpec, dialect: str) -> list[str]:
    name = f"{TABLE}_{spec.kind}"
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}_{event}" for event in ("insert", "update", "delete")] + [
            f"DELETE FROM {TABLE} WHERE kind = '{spec.kind}'"
        ]
    return [
        f"DROP TRIGGER IF EXISTS {name} ON {spec.table}",
        f"DROP FUNCTION IF EXISTS {name}()",
        f"DELETE FROM {TABLE} WHERE kind = '{spec.kind}'",
    ]


def node_column_statements(dialect: str) -> list[str]:
    """The columns naming the object a part's row belongs to (NULL on a row that is its own object)."""
    id_type = "CHAR(32)" if dialect == "sqlite" else "UUID"
    return [
        f"ALTER TABLE {TABLE} ADD COLUMN {NODE_KIND} VARCHAR(30)",
        f"ALTER TABLE {TABLE} ADD COLUMN {NODE_ID} {id_type}",
    ]


def drop_base_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TABLE IF EXISTS {FTS_TABLE}", f"DROP TABLE IF EXISTS {TABLE}"]
    return [f"DROP TABLE IF EXISTS {TABLE}"]


def kind_trigger_names(spec: KindSpec, dialect: str) -> set[str]:
    name = f"{TABLE}_{spec.kind}"
    return {f"{name}_{event}" for event in ("insert", "update", "delete")} if dialect == "sqlite" else {name}


def install_base(execute: Callable[[str], object], dialect: str) -> None:
    """Create the index table (and FTS5 table); `execute` runs one SQL string (a migration's `op.execute`)."""
    for statement in base_statements(dialect):
        execute(statement)


def install_kind(execute: Callable[[str], object], dialect: str, spec: KindSpec) -> None:
    """Create the triggers of `spec` and index the rows its table holds already."""
    for statement in kind_statements(spec, dialect):
        execute(statement)


def uninstall_kind(execute: Callable[[str], object], dialect: str, spec: KindSpec) -> None:
    for statement in drop_kind_statements(spec, dialect):
        execute(statement)


def install_node_columns(execute: Callable[[str], object], dialect: str) -> None:
    for statement in node_column_statements(dialect):
        execute(statement)


def uninstall_node_columns(execute: Callable[[str], object], dialect: str) -> None:
    for column in (NODE_ID, NODE_KIND):
        execute(f"ALTER TABLE {TABLE} DROP COLUMN {column}")


def uninstall_base(execute: Callable[[str], object], dialect: str) -> None:
    for statement in drop_base_statements(dialect):
        execute(statement)


INITIAL_KINDS = (REQUIREMENT, PRD, TASK, ARTIFACT)  # installed by migration 0060
CONVERSATION_KINDS = (CONVERSATION, CHAT_MESSAGE)  # installed by migration 0070, with the node columns
KINDS = INITIAL_KINDS + CONVERSATION_KINDS


def index_kinds(kinds: Iterable[str]) -> list[str]:
    """The index's row kinds that answer for `kinds`: each kind and the part kinds reported as it."""
    wanted = list(kinds)
    return wanted + [spec.kind for spec in KINDS if spec.node is not None and spec.node[0] in wanted]
