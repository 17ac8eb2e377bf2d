"""The offline PRD: overview, user stories, features, NFRs, Given/When/Then criteria and open questions."""

from __future__ import annotations

from typing import Any

from integrations.offline.analysis import Analysis, Constraint, analyse
from integrations.offline.features import PRIORITIES, Feature, features_of
from integrations.offline.rules import Rule, rules_of
from integrations.offline.words import article, plural

BENEFITS = {
    ("create", "update", "delete", "manage"): "the {entities} stay accurate and up to date",
    ("search", "filter", "sort", "view", "list"): "I can find the right {entity} without scrolling through everything",
    ("export", "download", "print"): "I can use {entity} data outside the product",
    ("import", "upload"): "I do not have to enter {entities} by hand",
    ("approve", "reject", "review"): "only checked {entities} move forward",
    ("submit",): "my {entity} reaches the people who act on it",
    ("log in", "log out", "register", "reset"): "only I can act under my account",
    ("notify", "send", "invite", "share", "comment"): "the people concerned hear about changes without asking",
    ("cancel", "archive", "close", "complete", "publish", "restore"): "every {entity}'s status reflects reality",
    ("book", "schedule"): "I secure a slot for {article} {entity}",
    ("pay", "refund"): "payments for {entities} are settled",
}
CHANNELS = ("email", "sms", "slack", "push", "webhook", "teams")
TOPIC_NFRS = {
    "security": "Security: every action checks the caller's role; credentials are hashed, never stored in "
    "plain text; changes to {entities} are written to an audit trail.",
    "availability": "Availability: the service runs with at least two replicas and survives the loss of one.",
    "usability": "Usability: every screen works on mobile and desktop widths and is keyboard accessible.",
    "compliance": "Compliance: who changed what and when is recorded and kept for the retention period.",
    "integration": "Integration: outside formats and channels ({formats}) are produced by a dedicated adapter, "
    "so a failure there never loses a change to {entities}.",
}


def _benefit(feature: Feature) -> str:
    if feature.benefit:
        return feature.benefit
    entity = feature.entity or "account"
    for verbs, text in BENEFITS.items():
        if feature.verbs[0] in verbs:
            return text.format(entity=entity, entities=plural(entity), article=article(entity))
    return f"I can get my work on {plural(entity)} done"


def _section(section_id: str, title: str, lines: list[str], features: list[Feature]) -> dict[str, Any]:
    return {
        "section_id": section_id,
        "title": title,
        "content": "\n".join(lines),
        "features": [f.as_json for f in features],
        "ai_generated": True,
    }


def _overview(a: Analysis, ctx: dict[str, Any], features: list[Feature]) -> list[str]:
    summary = " ".join(a.sentences[1:3]) if len(a.sentences) > 1 else a.title
    lines = [
        f"{a.title or 'Requirement'} ({ctx.get('priority') or 'MEDIUM'} priority)"
        + (f" for project {ctx['project_name']}." if ctx.get("project_name") else "."),
        f"Summary: {summary}",
        f"Actors: {', '.join(a.actors) or 'not stated'}.",
        f"Core entities: {', '.join(a.entities) or 'not stated'}.",
        f"Scope: {len(features)} features; core: {', '.join(f.id for f in features if f.strength == 'must')}.",
    ]
    if ctx.get("tech_stack"):
        lines.append(f"Tech stack: {ctx['tech_stack']}.")
    return lines


def _stories(features: list[Feature]) -> list[str]:
    return [
        f"- {f.id}: As {article(f.actor)} {f.actor}, I want to {f.name[0].lower() + f.name[1:]} so that {_benefit(f)}."
        for f in features
    ]


def _feature_lines(a: Analysis, features: list[Feature]) -> list[str]:
    lines, described = [], set()
    for f in features:
        lines.append(f'- {f.id} {f.name} ({f.priority}, {f.strength}): from "{f.source}"')
        if f.entity and a.fields.get(f.entity) and f.entity not in described:
            described.add(f.entity)
            lines.append(f"  Fields of {article(f.entity)} {f.entity}: {', '.join(a.fields[f.entity])}.")
    return lines


def _nfrs(a: Analysis, constraints: list[Constraint]) -> list[str]:
    lines = [f'- {c.kind.capitalize()}: {c.text} — "{c.sentence}"' for c in constraints]
    kinds = {c.kind for c in constraints}
    if "performance" not in kinds:
        lines.append(
            "- Performance (proposed, confirm): reads answer within 500 ms at P95 and writes within "
            "1 s under the expected load."
        )
    entities = plural(a.primary_entity)
    formats = ", ".join(a.formats) or "email, files"
    lines.extend(
        "- " + TOPIC_NFRS[topic].format(entities=entities, formats=formats)
        for topic in dict.fromkeys(("security", *a.topics))  # security always applies
        if topic in TOPIC_NFRS
    )
    lines.append("- Observability: every request is logged with a request id; errors are counted and alerted on.")
    return lines


def _criteria(a: Analysis, f: Feature) -> list[str]:
    entity = f.entity or "account"
    fields = a.fields.get(entity, [])
    verb = f.verbs[0]
    if verb in ("create", "manage"):
        given = f"Given {article(f.actor)} {f.actor} with valid {entity} details" + (
            f" ({', '.join(fields)})" if fields else ""
        )
        when, then = f"When they create the {entity}", f"Then it is saved and appears in the list of {plural(entity)}"
        extra = (
            f"And a missing or invalid {fields[0] if fields else 'required field'} is rejected with a "
            f"message naming that field"
        )
    elif verb in ("approve", "reject", "submit", "cancel", "archive", "close", "complete", "publish", "pay"):
        given = f"Given {article(entity)} {entity} that is waiting for this step"
        when = f"When {article(f.actor)} {f.actor} chooses to {verb} it"
        then = "Then its status changes and the change is recorded with who did it and when"
        extra = f"And trying to {verb} {article(entity)} {entity} that is already closed is refused with a clear reason"
    elif verb in ("export", "download", "print"):
        fmt = a.formats[0] if a.formats else "CSV"
        given, when = f"Given existing {plural(entity)}", f"When {article(f.actor)} {f.actor} exports them"
        then = f"Then a {fmt} file with one row per {entity} and a header row is produced"
        extra = "And an empty selection produces a file with only the header row"
    elif verb in ("log in", "register", "log out", "reset"):
        given, when = f"Given a registered {f.actor}", f"When they {verb} with valid credentials"
        then = "Then they are signed in and see only what their role allows"
        extra = "And wrong credentials are refused without saying which part was wrong"
    elif verb in ("search", "filter", "sort", "view", "list"):
        given, when = f"Given several {plural(entity)}", f"When {article(f.actor)} {f.actor} searches for one"
        then = f"Then only matching {plural(entity)} are shown, in a stable order"
        extra = "And no match shows an empty result, not an error"
    elif verb in ("notify", "send", "invite", "share"):
        subject = plural(a.primary_entity)
        given = f"Given a change to one of the {subject} that concerns {plural(entity)}"
        when, then = "When the change is saved", f"Then the {plural(entity)} concerned are told once, with a link to it"
        extra = "And a failed delivery is retried and never blocks the change itself"
    elif verb in ("book", "schedule"):
        given, when = f"Given an available {entity}", f"When {article(f.actor)} {f.actor} books it"
        then = "Then it is reserved for them and no longer offered to others"
        extra = f"And booking {article(entity)} {entity} that is already taken is refused"
    else:
        given = f"Given {article(entity)} {entity} the {f.actor} may act on"
        when, then = f"When they {verb} it", "Then the result is visible to everyone concerned"
        extra = f"And {article(f.actor)} {f.actor} without permission is refused"
    return [f"{f.id} {f.name}:", f"  {given},", f"  {when},", f"  {then}.", f"  {extra}."]


def _performance_criteria(constraints: list[Constraint]) -> list[str]:
    return [
        f'NFR: Given the expected load, When the feature in "{c.sentence}" is used, Then it meets "{c.text}".'
        for c in constraints
        if c.kind in ("performance", "scale")
    ]


LIMITS = {
    "time_limit": "When {amount} {unit} have passed",
    "cutoff": "When less than {amount} {unit} remain",
    "rate_limit": "When one more attempt than {amount} per {unit} is made",
    "max_attempts": "When {amount} wrong {unit} have been entered",
    "size_limit": "When the size exceeds {amount} {unit}",
    "percent_limit": "When more than {amount}{unit} is asked for",
    "max_count": "When there would be more than {amount} {unit}",
    "min_count": "While there are fewer than {amount} {unit}",
    "threshold": "When the value goes {direction} {amount} {unit}",
    "once": "When it is used a second time",
    "no_overlap": "When it would overlap an existing one",
    "non_negative": "When the value would go below zero",
    "allowed_values": "When anything but {values} is given",
    "only_roles": "When anyone but {values} asks",
    "expired_refused": "When it has expired",
    "schedule": "When the {unit} comes",
}


def rule_criteria(rules: list[Rule]) -> list[str]:
    """One Given/When/Then per rule sentence, quoting the requirement, with each of its limits as a When."""
    lines: list[str] = []
    for n, sentence in enumerate(dict.fromkeys(r.sentence for r in rules), start=1):
        lines.append(f'R{n} (rule stated by the requirement): "{sentence}"')
        lines.append("  Given the situation the rule describes,")
        for r in (r for r in rules if r.sentence == sentence):
            when = LIMITS[r.kind].format(
                amount=r.whole, unit=r.unit, values=" and ".join(r.values).upper(), direction=(r.values or ("",))[0]
            )
            lines.append(f"  {when},")
        lines.append("  Then the service applies exactly this rule, and a refusal names the rule that was broken.")
    return lines


def _questions(a: Analysis, features: list[Feature]) -> list[str]:
    q = []
    if not a.actors:
        q.append("Who uses this? Name the roles and what each of them may do.")
    elif set(a.actors) <= {"user"}:
        q.append('"Users" is not specific: which roles use this, and may every role do everything?')
    if not any(c.kind == "performance" for c in a.constraints):
        q.append("What response time is acceptable (for example P95 in ms) and under what load?")
    if not any(c.kind == "scale" for c in a.constraints):
        q.append("How many users and records must it handle now and in a year?")
    q += [f'"{term}" is not measurable: what number or behaviour defines it?' for term in a.vague]
    verbs = {v for f in features for v in f.verbs}
    if verbs & {"export", "download"} and not a.formats:
        q.append("Which export formats are needed (CSV, XLSX, PDF)?")
    if verbs & {"notify", "send", "invite"} and not any(ch in " ".join(a.sentences).lower() for ch in CHANNELS):
        q.append("Through which channel are people notified (email, SMS, in-app)?")
    for f in features:
        if f.verbs[0] in ("approve", "reject") and f.actor == a.primary_actor and f.actor not in a.explicit_roles:
            q.append(f"Who may {f.verbs[0]} {plural(f.entity or 'item')}, and can they act on their own?")
    for entity in a.entities:
        if not a.fields.get(entity):
            q.append(f"Which fields does {article(entity)} {entity} have, and which are required?")
    if len(features) > 3:
        q.append(f"Which of {', '.join(f.id for f in features)} must ship in the first release?")
    return list(dict.fromkeys(q)) or ["None found; confirm the scope with the requester before design."]


def build_prd(ctx: dict[str, Any], fallback_text: str) -> dict[str, Any]:
    a = analyse(str(ctx.get("title") or ""), str(ctx.get("content") or fallback_text))
    priority = str(ctx.get("priority") or "MEDIUM").upper()
    features = features_of(a, priority if priority in PRIORITIES else "MEDIUM")
    rules = rules_of(str(ctx.get("content") or fallback_text))
    # A limit inside a business rule ("expires after 30 minutes") is not a performance target.
    constraints = [c for c in a.constraints if c.sentence not in {r.sentence for r in rules}]
    criteria = [line for f in features for line in _criteria(a, f)] + rule_criteria(rules)
    criteria += _performance_criteria(constraints)
    return {
        "sections": [
            _section("overview", "Overview", _overview(a, ctx, features), []),
            _section("user_stories", "User stories", _stories(features), features),
            _section("features", "Features", _feature_lines(a, features), features),
            _section("non_functional", "Non-functional requirements", _nfrs(a, constraints), []),
            _section("acceptance_criteria", "Acceptance criteria", criteria, features),
            _section("open_questions", "Open questions", [f"- {q}" for q in _questions(a, features)], []),
        ]
    }
