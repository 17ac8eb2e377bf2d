"""Checking an AI step's output against its JSON Schema: the Violation reported, and the port that finds them.

The domain states the rule (no answer is used unless it matches its schema); an adapter supplies the validator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Violation:
    path: str  # JSONPath like $.tasks[2].depends_on
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SchemaValidator(Protocol):
    """JSON Schema (draft 2020-12) validation."""

    def violations(self, schema: dict[str, Any], data: Any) -> list[Violation]:
        """Every way `data` breaks `schema`, in document order, each naming the JSON path at fault."""
        ...
