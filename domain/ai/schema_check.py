"""A pure-Python check of data against the JSON Schema subset the step contracts use; names the JSON path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Annotations are accepted and ignored; anything else outside this set is refused, so a schema
# can never use a keyword that this check would silently skip.
ANNOTATIONS = frozenset({"$schema", "title", "description"})
SUPPORTED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "pattern",
    }
)

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


@dataclass(frozen=True)
class Violation:
    path: str  # JSONPath like $.tasks[2].depends_on
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def unsupported_keywords(schema: dict[str, Any], path: str = "$") -> list[str]:
    """Keywords in `schema` (recursively) that `violations` does not implement, as 'path: keyword'."""
    found = [f"{path}: {k}" for k in schema if k not in SUPPORTED | ANNOTATIONS]
    for name, sub in schema.get("properties", {}).items():
        found += unsupported_keywords(sub, f"{path}.properties.{name}")
    if isinstance(schema.get("items"), dict):
        found += unsupported_keywords(schema["items"], f"{path}.items")
    return found


def violations(schema: dict[str, Any], data: Any, path: str = "$") -> list[Violation]:
    """Every way `data` breaks `schema`; a value of the wrong type is not inspected further."""
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_TYPES[k](data) for k in kinds):
            return [Violation(path, f"expected {' or '.join(kinds)}, got {_type_name(data)}")]
    if "const" in schema and not _same(data, schema["const"]):
        return [Violation(path, f"must be {schema['const']!r}, got {_shown(data)}")]
    if "enum" in schema and not any(_same(data, e) for e in schema["enum"]):
        return [Violation(path, f"must be one of {', '.join(map(str, schema['enum']))}; got {_shown(data)}")]
    if isinstance(data, dict):
        return _object(schema, data, path)
    if isinstance(data, list):
        return _array(schema, data, path)
    if isinstance(data, str):
        return _string(schema, data, path)
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return _number(schema, data, path)
    return []


def _object(schema: dict[str, Any], data: dict[str, Any], path: str) -> list[Violation]:
    props = schema.get("properties", {})
    found = [
        Violation(path, f"missing required property {name!r}")
        for name in schema.get("required", [])
        if name not in data
    ]
    if schema.get("additionalProperties") is False:
        found += [Violation(path, f"unexpected property {name!r}") for name in data if name not in props]
    for name, sub in props.items():
        if name in data:
            found += violations(sub, data[name], f"{path}.{name}")
    return found


def _array(schema: dict[str, Any], data: list[Any], path: str) -> list[Violation]:
    found = []
    if len(data) < schema.get("minItems", 0):
        found.append(Violation(path, f"has {len(data)} items; at least {schema['minItems']} required"))
    if "maxItems" in schema and len(data) > schema["maxItems"]:
        found.append(Violation(path, f"has {len(data)} items; at most {schema['maxItems']} allowed"))
    if isinstance(schema.get("items"), dict):
        for i, item in enumerate(data):
            found += violations(schema["items"], item, f"{path}[{i}]")
    return found


def _string(schema: dict[str, Any], data: str, path: str) -> list[Violation]:
    found = []
    if len(data) < schema.get("minLength", 0):
        found.append(Violation(path, f"is {len(data)} characters; at least {schema['minLength']} required"))
    if "maxLength" in schema and len(data) > schema["maxLength"]:
        found.append(Violation(path, f"is {len(data)} characters; at most {schema['maxLength']} allowed"))
    if "pattern" in schema and not _regex(schema["pattern"]).search(data):
        found.append(Violation(path, f"{_shown(data)} does not match {schema['pattern']}"))
    return found


def _number(schema: dict[str, Any], data: float, path: str) -> list[Violation]:
    found = []
    if "minimum" in schema and data < schema["minimum"]:
        found.append(Violation(path, f"{data} is less than the minimum {schema['minimum']}"))
    if "maximum" in schema and data > schema["maximum"]:
        found.append(Violation(path, f"{data} is more than the maximum {schema['maximum']}"))
    return found


@lru_cache(maxsize=64)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _type_name(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](value):
            return name
    return type(value).__name__


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
