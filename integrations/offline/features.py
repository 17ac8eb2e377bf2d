"""Features of a requirement: its capabilities grouped per entity, named, numbered F1.. and prioritised."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.offline.analysis import Analysis, Capability
from integrations.offline.words import plural

PRIORITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
CRUD = ("create", "view", "list", "update", "delete", "manage")
STRENGTH_ORDER = {"must": 0, "should": 1, "could": 2}


@dataclass(frozen=True)
class Feature:
    id: str
    name: str
    priority: str
    verbs: tuple[str, ...]
    entity: str | None
    actor: str
    benefit: str | None
    strength: str
    source: str  # the sentence it came from

    @property
    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "priority": self.priority}


def lower_priority(priority: str, steps: int) -> str:
    return PRIORITIES[max(0, PRIORITIES.index(priority) - steps)]


def priority_for(strength: str, requirement_priority: str) -> str:
    """Core (must) features carry the requirement's priority; should one level less; could is LOW."""
    if strength == "could":
        return "LOW"
    return lower_priority(requirement_priority, STRENGTH_ORDER[strength])


def feature_name(verbs: tuple[str, ...], entity: str | None) -> str:
    words = [v.capitalize() if i == 0 else v for i, v in enumerate(verbs)]
    verb_text = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
    return f"{verb_text} {plural(entity)}" if entity else verb_text


def _grouped(capabilities: list[Capability]) -> list[tuple[tuple[str, ...], Capability]]:
    """(verbs, representative capability) per feature: CRUD verbs of one entity together, other verbs alone."""
    best: dict[tuple[str, str | None], Capability] = {}
    for c in capabilities:
        key = (c.verb, c.entity)
        if key not in best or STRENGTH_ORDER[c.strength] < STRENGTH_ORDER[best[key].strength]:
            best[key] = c
    with_entity = {verb for verb, entity in best if entity}
    kept = {k: c for k, c in best.items() if k[1] or k[0] not in with_entity or k[0] in ("log in", "register")}
    groups: dict[tuple[str, str | None], list[Capability]] = {}
    for (verb, entity), c in kept.items():
        group_key = ("crud", entity) if verb in CRUD and entity else (verb, entity)
        groups.setdefault(group_key, []).append(c)
    result = []
    for members in groups.values():
        verbs = tuple(sorted(dict.fromkeys(c.verb for c in members), key=lambda v: CRUD.index(v) if v in CRUD else 0))
        lead = min(members, key=lambda c: STRENGTH_ORDER[c.strength])
        result.append((verbs, lead))
    return result


def features_of(analysis: Analysis, requirement_priority: str) -> list[Feature]:
    grouped = _grouped(analysis.capabilities)
    if not grouped:  # no recognisable verbs: one "manage" feature per entity
        entities = analysis.entities or [analysis.primary_entity]
        grouped = [(("manage",), Capability("manage", e, None, "must", None, analysis.title)) for e in entities]
    grouped.sort(key=lambda g: STRENGTH_ORDER[g[1].strength])  # stable: keeps text order within a strength
    return [
        Feature(
            id=f"F{n}",
            name=feature_name(verbs, c.entity),
            verbs=verbs,
            entity=c.entity,
            priority=priority_for(c.strength, requirement_priority),
            actor=c.actor or analysis.primary_actor,
            benefit=c.benefit,
            strength=c.strength,
            source=c.sentence,
        )
        for n, (verbs, c) in enumerate(grouped, 1)
    ]
