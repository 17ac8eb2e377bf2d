"""Unique-key violations and changes lost to a concurrent request, raised as domain Conflicts naming what conflicts."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from domain.errors import Conflict
from persistence.tables import metadata

# Each unique key, by table and columns: what the user is told, and the input field at fault.
UNIQUE_KEYS: dict[tuple[str, tuple[str, ...]], tuple[str, str | None]] = {
    ("users", ("username",)): ("this username is taken", "username"),
    ("users", ("email",)): ("this email is already registered", "email"),
    ("project_members", ("project_id", "user_id")): ("the user is already a member of this project", "userId"),
    ("task_dependencies", ("task_id", "depends_on_id")): ("the task already depends on that task", "dependsOnId"),
    ("code_artifacts", ("task_id", "file_path", "version")): (
        "another version of this file was stored at the same moment; submit it again",
        "filePath",
    ),
    ("prd_documents", ("requirement_id", "version")): (
        "another PRD version of this requirement was stored at the same moment; try again",
        None,
    ),
    ("ai_model_configs", ("name",)): ("a model configuration with this name exists", "name"),
    ("prompt_templates", ("identifier",)): ("a prompt template with this identifier exists", "identifier"),
}
GONE = "a record this change refers to was deleted meanwhile; reload and try again"
CHANGED = "this record was changed or deleted by another request meanwhile; reload and try again"
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)")


def _constraint_columns() -> dict[str, tuple[str, tuple[str, ...]]]:
    named = {}
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, (UniqueConstraint, PrimaryKeyConstraint)) and constraint.name:
                named[str(constraint.name)] = (table.name, tuple(c.name for c in constraint.columns))
    return named


CONSTRAINTS = _constraint_columns()


def _violated_key(exc: IntegrityError) -> tuple[str, tuple[str, ...]] | None:
    """The (table, columns) of the violated unique key, from asyncpg's constraint name or SQLite's message."""
    cause: Any = exc.orig.__cause__ if exc.orig is not None else None
    if getattr(cause, "sqlstate", None) == "23505":
        return CONSTRAINTS.get(getattr(cause, "constraint_name", None) or "")
    found = _SQLITE_UNIQUE.search(str(exc.orig))
    if not found:
        return None
    columns: Sequence[str] = [c.strip() for c in found.group(1).split(",")]
    return columns[0].split(".")[0], tuple(c.split(".", 1)[1] for c in columns)


def _is_foreign_key(exc: IntegrityError) -> bool:
    cause: Any = exc.orig.__cause__ if exc.orig is not None else None
    return getattr(cause, "sqlstate", None) == "23503" or "FOREIGN KEY constraint failed" in str(exc.orig)


def conflict_for(exc: IntegrityError) -> Conflict | None:
    """The Conflict a client should see for this violation; None for one no request can cause (a bug)."""
    key = _violated_key(exc)
    if key in UNIQUE_KEYS:
        message, field = UNIQUE_KEYS[key]
        return Conflict(message, field=field, details={"constraint": f"{key[0]}({', '.join(key[1])})"})
    if _is_foreign_key(exc):
        return Conflict(GONE)
    return None


@contextlib.contextmanager
def _lost_races_as_conflicts() -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        mapped = conflict_for(exc)
        if mapped is None:
            raise
        raise mapped from exc
    except StaleDataError as exc:
        raise Conflict(CHANGED) from exc


class ConflictMappingSession(Session):
    """Every flush (explicit, before a query, at commit) and the commit itself report a lost race as a Conflict,
    never a 500. The commit is where PostgreSQL checks the foreign keys (they are deferred, persistence/tables.py):
    a row that refers to one deleted by a concurrent request passes its flush and fails there."""

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        with _lost_races_as_conflicts():
            super().flush(objects)

    def commit(self) -> None:
        with _lost_races_as_conflicts():
            super().commit()
