"""The offline task breakdown: role-based or feature-based tasks with estimates and acyclic dependencies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from integrations.offline.analysis import Analysis, analyse
from integrations.offline.features import PRIORITIES, Feature, features_of
from integrations.offline.words import plural

ROLES = ("DESIGN", "BACKEND", "FRONTEND", "TESTING", "DEVOPS", "DOCS")
DEFAULT_ROLES = ("BACKEND", "FRONTEND", "TESTING")
BASE_HOURS = {
    "ux": 4.0,
    "api": 4.0,
    "impl": 5.0,
    "ui": 8.0,
    "test": 4.0,
    "e2e": 4.0,
    "ci": 6.0,
    "load": 4.0,
    "docs": 3.0,
}
EXTRA_HOURS_PER_VERB = 2.0


@dataclass
class Plan:
    """Tasks in creation order; a dependency is kept only when the task it names is planned."""

    analysis: Analysis
    scale: float
    tasks: list[dict[str, Any]] = field(default_factory=list)

    def keys(self) -> set[str]:
        return {t["key"] for t in self.tasks}

    def add(
        self,
        key: str,
        role: str,
        name: str,
        description: str,
        kind: str,
        priority: str,
        depends_on: list[str],
        verbs: int = 1,
    ) -> None:
        known = self.keys()
        hours = (BASE_HOURS[kind] + EXTRA_HOURS_PER_VERB * max(0, verbs - 1)) * self.scale
        self.tasks.append(
            {
                "key": key,
                "name": name[:200],
                "task_type": role,
                "description": description,
                "estimated_hours": round(hours * 2) / 2,
                "priority": priority,
                "depends_on": list(dict.fromkeys(d for d in depends_on if d in known)),
            }
        )


def _scale(a: Analysis) -> float:
    """Longer texts and more entities mean more edge cases per task: up to twice the base estimate."""
    return min(2.0, 1.0 + min(a.word_count, 400) / 800 + 0.1 * max(0, len(a.entities) - 1))


def _slug(text: str) -> str:
    return "-".join(text.lower().split())[:40]


def _features(ctx: dict[str, Any], a: Analysis, priority: str) -> list[Feature]:
    """The PRD's features when it has some (a person may have edited them), else the requirement's own."""
    listed = [
        f
        for s in ctx.get("prd_sections") or []
        if isinstance(s, dict) and s.get("section_id") == "features"
        for f in s.get("features") or []
        if isinstance(f, dict) and f.get("id") and f.get("name")
    ]
    if not listed:
        return features_of(a, priority)
    result = []
    for f in listed:
        caps = analyse("", str(f["name"])).capabilities
        verbs = tuple(dict.fromkeys(c.verb for c in caps)) or ("build",)
        entity = next((c.entity for c in caps if c.entity), None)
        entity = next((e for e in a.entities if entity and e.split()[-1] == entity.split()[-1]), entity)
        result.append(
            Feature(
                id=str(f["id"]),
                name=str(f["name"]),
                verbs=verbs,
                entity=entity,
                priority=str(f["priority"]) if f.get("priority") in PRIORITIES else priority,
                actor=a.primary_actor,
                benefit=None,
                strength="must",
                source=str(f["name"]),
            )
        )
    return result


def _entity_priority(features: list[Feature], entity: str, default: str) -> str:
    ranks = [PRIORITIES.index(f.priority) for f in features if f.entity == entity]
    return PRIORITIES[max(ranks)] if ranks else default


def _fields_note(a: Analysis, entity: str) -> str:
    fields = a.fields.get(entity)
    return f" Fields: {', '.join(fields)}." if fields else " Fields: to be confirmed (see open questions)."


def _entities(a: Analysis, features: list[Feature]) -> list[str]:
    """Entities that get their own API and screens: the requirement's entities that some feature acts on."""
    return [e for e in a.entities if any(f.entity == e for f in features)] or [a.primary_entity]


def _home(f: Feature, entities: list[str]) -> str | None:
    """The entity whose API a feature builds on; "notify customers" builds on the primary entity's."""
    if f.entity in entities:
        return f.entity
    return entities[0] if f.entity else None


def _role_based(plan: Plan, roles: list[str], features: list[Feature], priority: str) -> None:
    a = plan.analysis
    entities = _entities(a, features)
    title = a.title or "the requirement"
    if "DESIGN" in roles:
        for e in entities:
            plan.add(
                f"ux-{_slug(e)}",
                "DESIGN",
                f"[Design] Wireframe the {e} screens",
                f"Wireframes and states (empty, loading, error) for {plural(e)} in {title}.",
                "ux",
                _entity_priority(features, e, priority),
                [],
            )
    if "BACKEND" in roles:
        for e in entities:
            verbs = [v for f in features if _home(f, entities) == e for v in f.verbs]
            plan.add(
                f"api-{_slug(e)}",
                "BACKEND",
                f"[Backend] Design the {e} API",
                f"Data model, API operations ({', '.join(dict.fromkeys(verbs))}), errors and permissions "
                f"for {plural(e)}.{_fields_note(a, e)}",
                "api",
                _entity_priority(features, e, priority),
                [],
            )
        for f in features:
            plan.add(
                f"be-{f.id.lower()}",
                "BACKEND",
                f"[Backend] Implement {f.name[0].lower() + f.name[1:]}",
                f"{f.id}: {f.name}. Validation, permission checks and an audit entry for each change. "
                f'Source: "{f.source}"',
                "impl",
                f.priority,
                [f"api-{_slug(home)}"] if (home := _home(f, entities)) else [],
                verbs=len(f.verbs),
            )
    if "FRONTEND" in roles:
        for e in entities:
            plan.add(
                f"ui-{_slug(e)}",
                "FRONTEND",
                f"[Frontend] Build the {e} screens",
                f"List, detail and edit screens for {plural(e)}, covering "
                f"{', '.join(f.id for f in features if _home(f, entities) == e) or 'the features'}; "
                f"validation messages name the field.",
                "ui",
                _entity_priority(features, e, priority),
                [f"api-{_slug(e)}", f"ux-{_slug(e)}"],
            )
        for f in features:
            if not _home(f, entities):
                plan.add(
                    f"ui-{f.id.lower()}",
                    "FRONTEND",
                    f"[Frontend] Build the {f.name.lower()} screen",
                    f"{f.id}: {f.name}.",
                    "ui",
                    f.priority,
                    [f"be-{f.id.lower()}"],
                )
    if "TESTING" in roles:
        for f in features:
            plan.add(
                f"test-{f.id.lower()}",
                "TESTING",
                f"[Testing] Write integration tests for {f.name[0].lower() + f.name[1:]}",
                f"{f.id}: happy path, invalid input (each field), permission refusal, and the PRD's "
                f"acceptance criteria.",
                "test",
                f.priority,
                [f"be-{f.id.lower()}"],
            )
        if "FRONTEND" in roles:
            for e in entities:
                plan.add(
                    f"e2e-{_slug(e)}",
                    "TESTING",
                    f"[Testing] Write end-to-end tests for the {e} screens",
                    f"Drive the {e} screens against a running API.",
                    "e2e",
                    _entity_priority(features, e, priority),
                    [f"ui-{_slug(e)}"] + [f"be-{f.id.lower()}" for f in features if _home(f, entities) == e],
                )
    _devops_and_docs(plan, roles, features, entities, priority)


def _feature_based(plan: Plan, roles: list[str], features: list[Feature], priority: str) -> None:
    for f in features:
        fid, label = f.id.lower(), f"[{f.id}] {{}}: {f.name}"
        chain = [
            ("DESIGN", "ux", "Design", "Wireframes and states for", []),
            ("BACKEND", "impl", "Backend", "API, validation, permissions and audit for", [f"{fid}-ux"]),
            ("FRONTEND", "ui", "Frontend", "Screens for", [f"{fid}-be", f"{fid}-ux"]),
            ("TESTING", "test", "Tests", "Integration and acceptance tests for", [f"{fid}-be", f"{fid}-fe"]),
            ("DOCS", "docs", "Docs", "User and API documentation for", [f"{fid}-be", f"{fid}-fe"]),
        ]
        suffix = {"ux": "ux", "impl": "be", "ui": "fe", "test": "test", "docs": "docs"}
        for role, kind, title, what, deps in chain:
            if role in roles:
                plan.add(
                    f"{fid}-{suffix[kind]}",
                    role,
                    label.format(title),
                    f'{what} {f.id} {f.name}. Source: "{f.source}"',
                    kind,
                    f.priority,
                    deps,
                    verbs=len(f.verbs),
                )
    _devops_and_docs(plan, [r for r in roles if r != "DOCS"], features, _entities(plan.analysis, features), priority)


def _devops_and_docs(plan: Plan, roles: list[str], features: list[Feature], entities: list[str], priority: str) -> None:
    a = plan.analysis
    if "DEVOPS" in roles:
        plan.add(
            "ops-ci",
            "DEVOPS",
            f"[DevOps] Set up CI and deployment for {a.title or 'the service'}",
            "Pipeline running lint and tests on every change; container image; deployment to DEV and STAGING.",
            "ci",
            priority,
            [],
        )
        loads = [c.text for c in a.constraints if c.kind in ("performance", "scale")]
        if loads:
            plan.add(
                "ops-load",
                "DEVOPS",
                f"[DevOps] Load test and monitor: {', '.join(loads)}",
                f"Load test against the stated targets ({'; '.join(loads)}) and alert when they are missed.",
                "load",
                priority,
                ["ops-ci"] + [t["key"] for t in plan.tasks if t["task_type"] == "BACKEND"],
            )
    if "DOCS" in roles:
        for e in entities:
            plan.add(
                f"docs-{_slug(e)}",
                "DOCS",
                f"[Docs] Document the {e} API and user guide",
                f"Reference for the {e} operations and a short guide per feature.",
                "docs",
                _entity_priority(features, e, priority),
                [f"be-{f.id.lower()}" for f in features if _home(f, entities) == e],
            )


def build_tasks(ctx: dict[str, Any], fallback_text: str) -> dict[str, Any]:
    a = analyse(str(ctx.get("title") or ""), str(ctx.get("content") or fallback_text))
    priority = str(ctx.get("priority") or "MEDIUM").upper()
    priority = priority if priority in PRIORITIES else "MEDIUM"
    roles = [r for r in ROLES if r in {str(x).upper() for x in ctx.get("target_roles") or DEFAULT_ROLES}]
    features = _features(ctx, a, priority)
    plan = Plan(a, _scale(a))
    if str(ctx.get("strategy") or "ROLE_BASED").upper() == "FEATURE_BASED":
        _feature_based(plan, roles or list(DEFAULT_ROLES), features, priority)
    else:
        _role_based(plan, roles or list(DEFAULT_ROLES), features, priority)
    total = round(sum(t["estimated_hours"] for t in plan.tasks), 2)
    return {"tasks": plan.tasks, "total_estimated_hours": total}
