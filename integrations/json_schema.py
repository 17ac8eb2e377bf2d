"""The SchemaValidator port on the jsonschema library's Draft 2020-12 validator."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from domain.ai.schema_check import Violation

SHOWN_CHARS = 200


def _document_order(error: Any) -> list[tuple[int, Any]]:
    return [(0, p) if isinstance(p, int) else (1, p) for p in error.absolute_path]


class JsonSchemaValidator:
    def violations(self, schema: dict[str, Any], data: Any) -> list[Violation]:
        errors = sorted(Draft202012Validator(schema).iter_errors(data), key=_document_order)
        return [Violation(e.json_path, e.message[:SHOWN_CHARS]) for e in errors]
