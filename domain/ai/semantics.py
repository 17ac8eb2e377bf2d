"""Rules on step outputs that JSON Schema cannot express: unique keys, known references, no cycles."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from domain.ai.schema_check import Violation
from domain.ai.schemas import PRD_SECTION_IDS


def prd_rules(data: dict[str, Any]) -> list[Violation]:
    sections = data["sections"]
    found = []
    seen: dict[str, int] = {}
    names: dict[str, str] = {}
    for i, section in enumerate(sections):
        sid = section["section_id"]
        if sid in seen:
            found.append(Violation(f"$.sections[{i}].section_id", f"{sid!r} repeats $.sections[{seen[sid]}]"))
        seen.setdefault(sid, i)
        for j, feature in enumerate(section["features"]):
            known = names.setdefault(feature["id"], feature["name"])
            if known != feature["name"]:
                found.append(
                    Violation(
                        f"$.sections[{i}].features[{j}].name",
                        f"feature {feature['id']} is named {feature['name']!r} here but {known!r} earlier",
                    )
                )
    missing = [sid for sid in PRD_SECTION_IDS if sid not in seen]
    if missing:
        found.append(Violation("$.sections", f"missing sections: {', '.join(missing)}"))
    if "features" in seen and not sections[seen["features"]]["features"]:
        found.append(Violation(f"$.sections[{seen['features']}].features", "the features section lists no features"))
    return found


def decompose_rules(data: dict[str, Any]) -> list[Violation]:
    tasks = data["tasks"]
    found = []
    index: dict[str, int] = {}
    for i, task in enumerate(tasks):
        if task["key"] in index:
            found.append(Violation(f"$.tasks[{i}].key", f"{task['key']!r} repeats $.tasks[{index[task['key']]}]"))
        index.setdefault(task["key"], i)
    for i, task in enumerate(tasks):
        for j, dep in enumerate(task["depends_on"]):
            if dep == task["key"]:
                found.append(Violation(f"$.tasks[{i}].depends_on[{j}]", f"task {dep!r} depends on itself"))
            elif dep not in index:
                found.append(Violation(f"$.tasks[{i}].depends_on[{j}]", f"unknown task key {dep!r}"))
    if not found:
        cycle = find_cycle([t["key"] for t in tasks], {t["key"]: t["depends_on"] for t in tasks})
        if cycle:
            found.append(
                Violation(f"$.tasks[{index[cycle[0]]}].depends_on", f"dependencies form a cycle: {' -> '.join(cycle)}")
            )
    return found


def find_cycle(keys: list[str], edges: dict[str, list[str]]) -> list[str] | None:
    """One dependency cycle as [a, b, ..., a], or None when the graph is acyclic."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    stack: list[str] = []

    def visit(key: str) -> list[str] | None:
        state[key] = 1
        stack.append(key)
        for dep in edges.get(key, []):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                cycle = visit(dep)
                if cycle:
                    return cycle
        stack.pop()
        state[key] = 2
        return None

    for key in keys:
        if key not in state:
            cycle = visit(key)
            if cycle:
                return cycle
    return None


def code_rules(data: dict[str, Any]) -> list[Violation]:
    found = []
    seen: dict[str, int] = {}
    for i, f in enumerate(data["files"]):
        norm = posixpath.normpath(f["path"])
        if norm in seen:
            found.append(Violation(f"$.files[{i}].path", f"{f['path']!r} is the same file as $.files[{seen[norm]}]"))
        seen.setdefault(norm, i)
    return found


# review has no rule beyond its schema
BY_STEP: dict[str, Callable[[dict[str, Any]], list[Violation]]] = {
    "prd": prd_rules,
    "decompose": decompose_rules,
    "code": code_rules,
}
