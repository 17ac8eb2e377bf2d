"""The offline task breakdown: role-based or feature-based tasks with estimates and acyclic dependencies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from integrations.offline.analysis import Analysis, analyse
from integrations.offline.features import PRIORITIES, Feature, features_of
from integrations.offline.rules import rules_of, summary
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
T = TypeVar("T")


Texts = Callable[[T], tuple[str, str, list[str]]]


@dataclass
class Plan:
    """Tasks in creation order; a dependency is kept only when the task it names is planned."""

    analysis: Analysis
    scale: float
    features: list[Feature]
    priority: str
    tasks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def entities(self) -> list[str]:
        return _entities(self.analysis, self.features)

    def homed(self, entity: str) -> list[Feature]:
        """The features that build on `entity`'s API."""
        return [f for f in self.features if _home(f, self.entities) == entity]

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

    def per_entity(self, kind: str, role: str, texts: Texts[str]) -> None:
        """One `kind` task per entity, as urgent as its most urgent feature; `texts` names, describes, depends."""
        for e in self.entities:
            name, description, depends_on = texts(e)
            priority = _entity_priority(self.features, e, self.priority)
            self.add(f"{kind}-{_slug(e)}", role, name, description, kind, priority, depends_on)

    def per_feature(
        self,
        prefix: str,
        kind: str,
        role: str,
        texts: Texts[Feature],
        *,
        only_homeless: bool = False,
        verbs: bool = False,
    ) -> None:
        """One `kind` task per feature (`only_homeless`: per feature that builds on no entity's API), estimated by its
        number of verbs when `verbs`."""
        for f in self.features:
            if not (only_homeless and _home(f, self.entities)):
                name, description, depends_on = texts(f)
                count = len(f.verbs) if verbs else 1
                self.add(f"{prefix}-{f.id.lower()}", role, name, description, kind, f.priority, depends_on, count)


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


def _role_based(plan: Plan, roles: list[str]) -> None:
    a = plan.analysis
    title = a.title or "the requirement"
    if "DESIGN" in roles:
        plan.per_entity(
            "ux",
            "DESIGN",
            lambda e: (
                f"[Design] Wireframe the {e} screens",
                f"Wireframes and states (empty, loading, error) for {plural(e)} in {title}.",
                [],
            ),
        )
    if "BACKEND" in roles:
        plan.per_entity(
            "api",
            "BACKEND",
            lambda e: (
                f"[Backend] Design the {e} API",
                (
                    "Data model, API operations "
                    f"({', '.join(dict.fromkeys(v for f in plan.homed(e) for v in f.verbs))}), "
                    f"errors and permissions for {plural(e)}.{_fields_note(a, e)}"
                ),
                [],
            ),
        )
        plan.per_feature(
            "be",
            "impl",
            "BACKEND",
            lambda f: (
                f"[Backend] Implement {f.name[0].lower() + f.name[1:]}",
                (
                    f"{f.id}: {f.name}. Validation, permission checks and an audit entry for each change. "
                    f'Source: "{f.source}"'
                ),
                [f"api-{_slug(home)}"] if (home := _home(f, plan.entities)) else [],
            ),
            verbs=True,
        )
    if "FRONTEND" in roles:
        plan.per_entity(
            "ui",
            "FRONTEND",
            lambda e: (
                f"[Frontend] Build the {e} screens",
                (
                    f"{_screens(plan, e)} for {plural(e)}, covering "
                    f"{', '.join(f.id for f in plan.homed(e)) or 'the features'}; validation messages name the field."
                ),
                [f"api-{_slug(e)}", f"ux-{_slug(e)}"],
            ),
        )
        plan.per_feature(
            "ui",
            "ui",
            "FRONTEND",
            lambda f: (f"[Frontend] Build the {f.name.lower()} screen", f"{f.id}: {f.name}.", [f"be-{f.id.lower()}"]),
            only_homeless=True,
        )
    if "TESTING" in roles:
        plan.per_feature(
            "test",
            "test",
            "TESTING",
            lambda f: (
                f"[Testing] Write integration tests for {f.name[0].lower() + f.name[1:]}",
                (
                    f"{f.id}: happy path, invalid input (each field), permission refusal, and the PRD's "
                    "acceptance criteria."
                ),
                [f"be-{f.id.lower()}"],
            ),
        )
        if "FRONTEND" in roles:
            plan.per_entity(
                "e2e",
                "TESTING",
                lambda e: (
                    f"[Testing] Write end-to-end tests for the {e} screens",
                    f"Drive the {e} screens against a running API.",
                    [f"ui-{_slug(e)}"] + [f"be-{f.id.lower()}" for f in plan.homed(e)],
                ),
            )
    _devops_and_docs(plan, roles)


def _feature_based(plan: Plan, roles: list[str]) -> None:
    for f in plan.features:
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
    _devops_and_docs(plan, [r for r in roles if r != "DOCS"])


READ_VERBS = frozenset({"search", "filter", "sort", "view", "list", "see", "export", "download", "print"})


def _screens(plan: Plan, entity: str) -> str:
    """Edit screens only for what someone changes: an audit that people only see gets list and detail screens."""
    verbs = {v for f in plan.homed(entity) for v in f.verbs}
    return "List, detail and edit screens" if verbs - READ_VERBS else "List and detail screens"


def _rules(plan: Plan, roles: list[str], content: str) -> None:
    """One backend task per rule sentence of the requirement, and one test task covering every rule."""
    rules = rules_of(content)
    sentences = list(dict.fromkeys(r.sentence for r in rules))
    if not sentences:
        return
    backend = [t["key"] for t in plan.tasks if t["task_type"] == "BACKEND"]
    keys = []
    if "BACKEND" in roles:
        for n, sentence in enumerate(sentences, start=1):
            keys.append(f"rule-{n}")
            plan.add(
                f"rule-{n}",
                "BACKEND",
                f"[Backend] Enforce rule R{n} ({summary([r for r in rules if r.sentence == sentence])})",
                f'Rule R{n} stated by the requirement: "{sentence}" Enforce it in the service (not only in the UI); '
                "a refusal names the rule; the limits are settings with these values as defaults.",
                "impl",
                plan.priority,
                backend[:1],
            )
    if "TESTING" in roles:
        listed = " ".join(f'R{n}: "{s}"' for n, s in enumerate(sentences, start=1))
        plan.add(
            "test-rules",
            "TESTING",
            "[Testing] Test every rule at its boundary",
            f"For each rule, a test just inside and just past the limit. {listed}",
            "test",
            plan.priority,
            keys,
        )


def _devops_and_docs(plan: Plan, roles: list[str]) -> None:
    a, priority = plan.analysis, plan.priority
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
        plan.per_entity(
            "docs",
            "DOCS",
            lambda e: (
                f"[Docs] Document the {e} API and user guide",
                f"Reference for the {e} operations and a short guide per feature.",
                [f"be-{f.id.lower()}" for f in plan.homed(e)],
            ),
        )


def build_tasks(ctx: dict[str, Any], fallback_text: str) -> dict[str, Any]:
    a = analyse(str(ctx.get("title") or ""), str(ctx.get("content") or fallback_text))
    priority = str(ctx.get("priority") or "MEDIUM").upper()
    priority = priority if priority in PRIORITIES else "MEDIUM"
    roles = [r for r in ROLES if r in {str(x).upper() for x in ctx.get("target_roles") or DEFAULT_ROLES}]
    plan = Plan(a, _scale(a), _features(ctx, a, priority), priority)
    roles = roles or list(DEFAULT_ROLES)
    if str(ctx.get("strategy") or "ROLE_BASED").upper() == "FEATURE_BASED":
        _feature_based(plan, roles)
    else:
        _role_based(plan, roles)
    _rules(plan, roles, str(ctx.get("content") or fallback_text))
    total = round(sum(t["estimated_hours"] for t in plan.tasks), 2)
    return {"tasks": plan.tasks, "total_estimated_hours": total}
