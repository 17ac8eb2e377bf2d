"""What to generate for a code task: the entity, its typed fields, its status actions, export and options."""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass
from typing import Any

from domain.ai.rubric import SHADOWED
from integrations.offline.analysis import Analysis, analyse
from integrations.offline.rules import Rule, rules_of
from integrations.offline.words import camel, pascal, plural, snake

OPEN = "OPEN"
# action -> (status after, statuses it may start from)
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "submit": ("SUBMITTED", (OPEN,)),
    "approve": ("APPROVED", (OPEN, "SUBMITTED")),
    "reject": ("REJECTED", (OPEN, "SUBMITTED")),
    "publish": ("PUBLISHED", (OPEN, "APPROVED")),
    "schedule": ("SCHEDULED", (OPEN, "APPROVED")),
    "book": ("BOOKED", (OPEN, "PUBLISHED", "SCHEDULED")),
    "pay": ("PAID", (OPEN, "SUBMITTED", "APPROVED")),
    "ship": ("SHIPPED", ("PAID", "APPROVED")),
    "refund": ("REFUNDED", ("PAID", "SHIPPED")),
    "complete": ("COMPLETED", (OPEN, "SUBMITTED", "APPROVED", "PUBLISHED", "SCHEDULED", "BOOKED", "SHIPPED")),
    "close": ("CLOSED", (OPEN, "SUBMITTED", "APPROVED", "PUBLISHED", "SCHEDULED", "BOOKED", "COMPLETED")),
    "cancel": ("CANCELLED", (OPEN, "SUBMITTED", "APPROVED", "PUBLISHED", "SCHEDULED", "BOOKED")),
    "archive": (
        "ARCHIVED",
        (
            OPEN,
            "SUBMITTED",
            "APPROVED",
            "REJECTED",
            "PUBLISHED",
            "COMPLETED",
            "CLOSED",
            "CANCELLED",
            "PAID",
            "SHIPPED",
            "REFUNDED",
            "SCHEDULED",
            "BOOKED",
        ),
    ),
    "restore": (OPEN, ("ARCHIVED", "CANCELLED")),
}
NOT_GENERATED = {
    "notify": "notifications need a delivery channel",
    "send": "sending needs a delivery channel",
    "import": "import needs a file format agreement",
    "upload": "uploads need file storage",
    "log in": "authentication belongs to the platform's auth layer",
    "register": "registration belongs to the platform's auth layer",
    "assign": "assignment needs the user directory",
    "invite": "invitations need the user directory",
}

KINDS = (  # (kind, words that suggest it), first match wins
    ("flag", ("active", "enabled", "paid", "done", "archived", "public", "verified")),
    ("email", ("email", "e-mail")),
    ("money", ("amount", "price", "total", "cost", "fee", "balance", "salary", "budget", "rate")),
    ("count", ("quantity", "count", "number", "age", "seats", "capacity", "stock", "size", "duration")),
    ("date", ("date", "deadline", "birthday", "day")),
)
SAMPLES = {
    "text": None,
    "note": "Some notes",
    "money": 125.5,
    "count": 3,
    "date": "2030-01-31",
    "email": "someone@example.com",
    "flag": True,
}
INVALID = {
    "text": "",
    "note": 5,
    "money": -1,
    "count": -2,
    "date": "31/01/2030",
    "email": "not-an-email",
    "flag": "yes",
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # text | note | money | count | date | email | flag

    @property
    def required(self) -> bool:
        return self.kind not in ("note", "flag")

    @property
    def sample(self) -> Any:
        value = SAMPLES[self.kind]
        return f"Sample {self.name.replace('_', ' ')}" if value is None else value

    @property
    def invalid(self) -> Any:
        return INVALID[self.kind]


@dataclass(frozen=True)
class CodeSpec:
    entity: str  # singular words, "expense report"
    fields: tuple[FieldSpec, ...]
    actions: tuple[tuple[str, str, tuple[str, ...]], ...]  # (action, target, sources)
    export: bool
    framework: str
    include_tests: bool
    include_docs: bool
    skipped: tuple[str, ...]  # capabilities not generated, with the reason
    requirement_title: str
    rules: tuple[Rule, ...] = ()

    @property
    def file_stem(self) -> str:
        return snake(self.entity)

    @property
    def id_name(self) -> str:
        return f"{snake(self.entity)}_id"

    @property
    def snake(self) -> str:
        """The entity as a variable name; "class" becomes "class_", "list" becomes "list_"."""
        name = snake(self.entity)
        return f"{name}_" if keyword.iskeyword(name) or name in dir(builtins) else name

    @property
    def pascal(self) -> str:
        return pascal(self.entity)

    @property
    def camel(self) -> str:
        return camel(self.entity)

    @property
    def plural_snake(self) -> str:
        return snake(plural(self.entity))

    @property
    def package(self) -> str:
        name = self.plural_snake
        # Never a standard-library or well-known PyPI name: a package `requests/` would shadow the real library.
        return f"{name}_app" if name in SHADOWED or name == "test" else name

    @property
    def url(self) -> str:
        return "/" + plural(self.entity).replace(" ", "-")

    @property
    def statuses(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([OPEN, *(target for _, target, _ in self.actions)])) if self.actions else ()


def _identifier(phrase: str) -> str:
    name = snake(phrase)
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"{name}_value"
    return name


def _kind(name: str) -> str:
    words = name.split("_")
    for kind, hints in KINDS:
        if any(w in hints for w in words) or (kind == "flag" and words[0] in ("is", "has")):
            return kind
    return "text"


def _fields(a: Analysis, entity: str) -> tuple[FieldSpec, ...]:
    names = [_identifier(f) for f in a.fields.get(entity, [])]
    names = [n for n in dict.fromkeys(names) if n not in ("id", "status", "state")]
    if not names:
        return FieldSpec("title", "text"), FieldSpec("description", "note")
    return tuple(FieldSpec(n, _kind(n)) for n in names)


def _actions(verbs: list[str]) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    chosen = [v for v in dict.fromkeys(verbs) if v in ACTIONS]
    statuses = {OPEN} | {ACTIONS[v][0] for v in chosen}
    result = []
    for verb in chosen:
        target, sources = ACTIONS[verb]
        kept = tuple(s for s in sources if s in statuses and s != target)
        if kept or target != OPEN:
            result.append((verb, target, kept or (OPEN,)))
    return tuple(result)


def _mentions(text: str, entity: str) -> bool:
    return re.search(rf"\b(?:{re.escape(entity)}|{re.escape(plural(entity))})\b", text.lower()) is not None


def _entity(task_text: str, task: Analysis, requirement: Analysis) -> str:
    for e in requirement.entities:  # the requirement's entity the task names wins
        if _mentions(task_text, e):
            return e
    named = [c.entity for c in task.capabilities if c.entity] + task.entities
    return named[0] if named else requirement.primary_entity


def build_spec(ctx: dict[str, Any], fallback_text: str) -> CodeSpec:
    task_text = f"{ctx.get('task_name') or ''}\n{ctx.get('task_description') or ''}"
    requirement = analyse("", str(ctx.get("requirement") or fallback_text))
    task = analyse("", task_text)
    entity = _entity(task_text, task, requirement)
    verbs = [c.verb for c in task.capabilities] + [c.verb for c in requirement.capabilities if c.entity == entity]
    # "notify customers when an invoice is approved" concerns the invoice module even though its object is people
    mentioned = [c.verb for c in requirement.capabilities if _mentions(c.sentence, entity)]
    fields = _fields(requirement, entity) if requirement.fields.get(entity) else _fields(task, entity)
    title = requirement.sentences[0] if requirement.sentences else entity
    return CodeSpec(
        entity=entity,
        fields=fields,
        actions=_actions(verbs),
        export=any(v in ("export", "download") for v in verbs),
        framework=str(ctx.get("framework") or "").strip().lower(),
        include_tests=ctx.get("include_tests") is not False,
        include_docs=bool(ctx.get("include_docs")),
        skipped=tuple(f"{v}: {NOT_GENERATED[v]}" for v in dict.fromkeys(verbs + mentioned) if v in NOT_GENERATED),
        requirement_title=title,
        rules=tuple(rules_of(str(ctx.get("requirement") or fallback_text))),
    )
