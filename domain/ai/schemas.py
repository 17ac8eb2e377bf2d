"""JSON Schemas (draft 2020-12) of each AI step's output."""

from __future__ import annotations

from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"

PRIORITIES = ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
TASK_TYPES = ["BACKEND", "FRONTEND", "TESTING", "DEVOPS", "DESIGN", "DOCS"]
SEVERITIES = ["INFO", "MINOR", "MAJOR", "CRITICAL"]
DECISIONS = ["APPROVED", "CHANGES_REQUESTED", "REJECTED"]
PRD_SECTION_IDS = ["overview", "user_stories", "features", "non_functional", "acceptance_criteria", "open_questions"]
MAX_HOURS = 999.99  # the tasks.estimated_hours column's range


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def _text(max_length: int, min_length: int = 1) -> dict[str, Any]:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


FEATURE = _object(
    {
        "id": {"type": "string", "pattern": "^F[1-9][0-9]*$"},
        "name": _text(200),
        "priority": {"enum": PRIORITIES},
    }
)

PRD = {
    "$schema": DRAFT,
    "title": "prd",
    **_object(
        {
            "sections": {
                "type": "array",
                "minItems": len(PRD_SECTION_IDS),
                "maxItems": 20,
                "items": _object(
                    {
                        "section_id": {"enum": PRD_SECTION_IDS},
                        "title": _text(200),
                        "content": _text(50_000),
                        "features": {"type": "array", "maxItems": 100, "items": FEATURE},
                        "ai_generated": {"const": True},
                    }
                ),
            },
        }
    ),
}

DECOMPOSE = {
    "$schema": DRAFT,
    "title": "decompose",
    **_object(
        {
            "tasks": {
                "type": "array",
                "minItems": 1,
                "maxItems": 200,
                "items": _object(
                    {
                        "key": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
                        "name": _text(200),
                        "task_type": {"enum": TASK_TYPES},
                        "description": _text(10_000, min_length=0),
                        "estimated_hours": {"type": "number", "minimum": 0, "maximum": MAX_HOURS},
                        "priority": {"enum": PRIORITIES},
                        "depends_on": {
                            "type": "array",
                            "maxItems": 50,
                            "items": {"type": "string", "minLength": 1, "maxLength": 64},
                        },
                    }
                ),
            },
            "total_estimated_hours": {"type": "number", "minimum": 0},
        }
    ),
}

CODE = {
    "$schema": DRAFT,
    "title": "code",
    **_object(
        {
            "files": {
                "type": "array",
                "minItems": 1,
                "maxItems": 50,
                "items": _object(
                    {
                        # relative POSIX path: no leading slash, no backslash, no `..` segment
                        "path": {
                            "type": "string",
                            "maxLength": 500,
                            "pattern": r"^(?!/)(?!.*\\)(?!(?:.*/)?\.\.(?:/|$))[^\x00]+$",
                        },
                        "language": _text(30),
                        "content": _text(1_000_000, min_length=0),
                    }
                ),
            },
            "notes": _text(10_000, min_length=0),
        }
    ),
}

REVIEW = {
    "$schema": DRAFT,
    "title": "review",
    **_object(
        {
            "findings": {
                "type": "array",
                "maxItems": 500,
                "items": _object(
                    {
                        "severity": {"enum": SEVERITIES},
                        "file": _text(500),
                        "line": {"type": ["integer", "null"], "minimum": 1},
                        "rule": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"},
                        "message": _text(2_000),
                        "suggestion": _text(2_000, min_length=0),
                    }
                ),
            },
            "recommended_decision": {"enum": DECISIONS},
            "summary": _text(5_000, min_length=0),
        }
    ),
}

BY_STEP: dict[str, dict[str, Any]] = {"prd": PRD, "decompose": DECOMPOSE, "code": CODE, "review": REVIEW}
