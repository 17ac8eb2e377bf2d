"""Reads a requirement text: actors, entities, capabilities (verb + entity), fields, constraints, vague terms."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from integrations.offline.words import (
    DETERMINERS,
    IRREGULAR_PARTICIPLES,
    PREPOSITIONS,
    ROLE_WORDS,
    STOPWORDS,
    VAGUE_TERMS,
    VERB_FORMS,
    plural,
    singular,
    verb_base,
)

MAX_ENTITIES = 6
FORMATS = ("csv", "pdf", "xlsx", "excel", "json", "xml")
CONTAINERS = frozenset(
    {
        "list",
        "set",
        "number",
        "history",
        "summary",
        "details",
        "overview",
        "kind",
        "type",
        "group",
        "batch",
        "copy",
        "view",
        "report",
    }
)
FIELD_INTRO = r"(?:with|having|including|containing|that (?:has|have|contains?)|has|have|includes?|contains?)"

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
_TOKEN = re.compile(r"[a-z][a-z0-9'_-]*|\d[\d,]*(?:\.\d+)?[km%]?")
NO_OBJECT = frozenset({"log in", "log out", "register"})
PRONOUNS = frozenset({"it", "them", "they", "these", "those", "this", "that"})
PEOPLE_VERBS = frozenset({"notify", "invite", "assign", "send", "share"})
_PHRASAL = sorted((f for f in VERB_FORMS if " " in f), key=len, reverse=True)
_CONSTRAINT = re.compile(
    r"(?:(?:within|under|below|in|less than|no more than|at most|at least|up to|over|more than|above|"
    r"minimum of|maximum of)\s+)?\d[\d,]*(?:\.\d+)?\s*(?:k|m)?\s*"
    r"(?:%|percent|ms\b|milliseconds?|seconds?|secs?\b|s\b|minutes?|mins?\b|hours?|(?:business |working )?days?|"
    r"concurrent users|users|requests?(?: per (?:second|minute))?|rps|qps|mb|gb|kb|tb|records|rows|items|"
    r"files|transactions|orders|invoices)(?:\s+(?:uptime|availability))?",
    re.IGNORECASE,
)
RULE_MARKERS = re.compile(
    r"\d|\bonce\b|\bonly\b|\bnever\b|\bmust not\b|\bcannot\b|\bat (?:most|least)\b|\bup to\b|\bexpire|\blimit|"
    r"\boverlap|\brefused\b|\blocked\b|\bevery\b|\bnightly\b|\bdaily\b|\bsingle[- ]use\b|\bone[- ]time\b",
    re.IGNORECASE,
)
# Verbs that, in a sentence stating a rule, describe the rule ("can be used once") rather than a feature.
RULE_VERBS = frozenset(
    {"use", "get", "take", "give", "keep", "show", "make", "limit", "expire", "lock", "refuse", "reset"}
)
_BE = frozenset({"be", "is", "are", "was", "were", "been"})
_MUST = re.compile(r"\b(must|shall|required|need to|needs to|has to|have to|critical|essential)\b", re.IGNORECASE)
_SHOULD = re.compile(r"\bshould\b", re.IGNORECASE)
_COULD = re.compile(r"\b(could|may|nice to have|optional|ideally|later|eventually|would be nice)\b", re.IGNORECASE)
_BENEFIT = re.compile(r"\b(?:so that|in order to|so they can|so we can)\s+(.+?)[.!?]?$", re.IGNORECASE)
_AS_ROLE = re.compile(r"\bas an?\s+([a-z]+(?:\s[a-z]+)?)", re.IGNORECASE)

TOPICS = {
    "security": (
        "secure",
        "security",
        "password",
        "encrypt",
        "encrypted",
        "permission",
        "permissions",
        "role",
        "roles",
        "authentication",
        "authorization",
        "log in",
        "login",
        "gdpr",
        "pii",
        "audit",
        "token",
        "2fa",
        "mfa",
        "privacy",
        "sensitive",
        "admin",
        "approve",
    ),
    "performance": (
        "fast",
        "performance",
        "latency",
        "response time",
        "seconds",
        "ms",
        "quickly",
        "load",
        "throughput",
        "concurrent",
        "scale",
        "scalable",
    ),
    "availability": ("uptime", "available", "availability", "downtime", "24/7", "reliable"),
    "usability": ("mobile", "responsive", "accessible", "accessibility", "intuitive", "user-friendly"),
    "compliance": ("audit", "gdpr", "compliance", "retention", "history"),
    "integration": (
        "email",
        "sms",
        "slack",
        "webhook",
        "integrate",
        "integration",
        "csv",
        "pdf",
        "excel",
        "notify",
        "notification",
    ),
}


@dataclass(frozen=True)
class Capability:
    verb: str
    entity: str | None
    actor: str | None
    strength: str  # must | should | could
    benefit: str | None
    sentence: str


@dataclass(frozen=True)
class Constraint:
    text: str
    kind: str  # performance | scale | availability | capacity | quality | process
    sentence: str


@dataclass(frozen=True)
class Analysis:
    title: str
    sentences: list[str]
    actors: list[str]
    entities: list[str]
    capabilities: list[Capability]
    constraints: list[Constraint]
    fields: dict[str, list[str]]
    topics: list[str]
    vague: list[str]
    formats: list[str]
    word_count: int
    explicit_roles: list[str] = field(default_factory=list)

    @property
    def primary_entity(self) -> str:
        return self.entities[0] if self.entities else "item"

    @property
    def primary_actor(self) -> str:
        return self.actors[0] if self.actors else "user"


def sentences_of(text: str) -> list[str]:
    lines = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", part) for part in _SENTENCE_END.split(text)]
    return [s.strip() for s in lines if s and s.strip()]


def tokens_of(sentence: str) -> list[str]:
    lowered = sentence.lower()
    for phrase in _PHRASAL:
        lowered = re.sub(rf"\b{phrase}\b", phrase.replace(" ", "_"), lowered)
    return [t.replace("_", " ") for t in _TOKEN.findall(lowered)]


def _is_verb_at(tokens: list[str], i: int) -> str | None:
    tok = tokens[i]
    if i > 0 and (tokens[i - 1] in DETERMINERS or tokens[i - 1] in PREPOSITIONS):
        return None  # "the export", "by email"
    if tok.endswith("ed"):  # passive "invoices are approved" is an action; "approved invoices" is not
        passive = i > 0 and tokens[i - 1] in ("be", "is", "are", "was", "were", "been", "get", "gets", "got")
        return verb_base(tok) if passive else None
    return VERB_FORMS.get(tok) if " " in tok else verb_base(tok)


def _noun_ok(tok: str, in_object: bool) -> bool:
    if not tok.isascii() or not tok.replace("-", "").isalpha() or len(tok) < 3:
        return False
    if tok in STOPWORDS or tok in DETERMINERS or tok.endswith("ly") or tok in FORMATS:
        return False
    base = verb_base(tok)
    return base is None or (in_object and tok.endswith("s") and tok != base)


def _object_after(tokens: list[str], i: int) -> str | None:
    j = i + 1
    while j < len(tokens) and (tokens[j] in DETERMINERS or tokens[j][0].isdigit() or _participle(tokens[j])):
        j += 1
    if j + 1 < len(tokens) and tokens[j] in CONTAINERS and tokens[j + 1] == "of":
        j += 2
        while j < len(tokens) and tokens[j] in DETERMINERS:
            j += 1
    words: list[str] = []
    while j < len(tokens) and len(words) < 2 and _noun_ok(tokens[j], in_object=True):
        words.append(tokens[j])
        j += 1
    if not words:
        return None
    return " ".join([*words[:-1], singular(words[-1])])


def _participle(tok: str) -> bool:
    """ "approved" in "export approved reports" describes the object."""
    return tok in IRREGULAR_PARTICIPLES or (tok.endswith("ed") and verb_base(tok) is not None)


def _strength(sentence: str) -> str:
    if _MUST.search(sentence):
        return "must"
    if _SHOULD.search(sentence):
        return "should"
    if _COULD.search(sentence):
        return "could"
    return "must"


def _actor_in(sentence: str, tokens: list[str], before: int) -> str | None:
    m = _AS_ROLE.search(sentence)
    if m:
        return singular(m.group(1).split()[-1]) if m.group(1).split()[-1] not in STOPWORDS else None
    for tok in tokens[:before]:
        if singular(tok) in ROLE_WORDS:
            return singular(tok)
    return None


def _sentence_capabilities(sentence: str, previous: str | None) -> list[Capability]:
    """Capabilities of one sentence; `previous` is what a pronoun ("approve them") refers to."""
    tokens = tokens_of(sentence)
    found: list[tuple[int, str, str | None]] = []
    for i in range(len(tokens)):
        verb = _is_verb_at(tokens, i)
        if verb:
            found.append((i, verb, None if verb in NO_OBJECT else _object_after(tokens, i)))
    if not found:
        return []
    if previous and all(o is None for _, _, o in found) and PRONOUNS & set(tokens):
        found = [(i, verb, None if verb in NO_OBJECT else previous) for i, verb, _ in found]
    objects = [o for _, _, o in found]
    # "create, edit and delete invoices": verbs without an object share the next (else previous) one
    resolved = []
    for k, (i, verb, obj) in enumerate(found):
        if obj is None and verb not in NO_OBJECT:
            obj = next((o for o in objects[k + 1 :] if o), None) or next((o for o in reversed(objects[:k]) if o), None)
        resolved.append((i, verb, obj))
    actor = _actor_in(sentence, tokens, found[0][0])
    benefit = _BENEFIT.search(sentence)
    strength = _strength(sentence)
    return [
        Capability(verb, obj, actor, strength, benefit.group(1).strip() if benefit else None, sentence)
        for _, verb, obj in resolved
    ]


def is_rule_sentence(sentence: str) -> bool:
    """A sentence that states a limit, a condition or a one-time use, not only a capability."""
    return RULE_MARKERS.search(sentence) is not None


def _passive(sentence: str, verb: str) -> bool:
    tokens = tokens_of(sentence)
    return any(
        tokens[i - 1] in _BE and (tok.endswith("ed") or tok in IRREGULAR_PARTICIPLES) and verb_base(tok) == verb
        for i, tok in enumerate(tokens)
        if i
    )


def _states_a_feature(c: Capability) -> bool:
    """False for a capability read out of a rule ("Rate-limit reset requests to 5 per hour" is not a feature
    "reset requests"): in a rule sentence only an actor's action or a passive system action counts."""
    if not is_rule_sentence(c.sentence):
        return True
    return c.actor is not None or (c.verb not in RULE_VERBS and _passive(c.sentence, c.verb))


def _count(text: str, noun: str) -> int:
    return len(re.findall(rf"\b(?:{re.escape(noun)}|{re.escape(plural(noun))})\b", text, re.IGNORECASE))


def _entities(text: str, sentences: list[str], capabilities: list[Capability], actors: list[str]) -> list[str]:
    candidates: dict[str, int] = {}  # entity -> first position
    for c in capabilities:
        if c.entity and c.entity not in candidates:
            candidates[c.entity] = len(candidates)
    for s in sentences:
        tokens = tokens_of(s)
        for i, tok in enumerate(tokens[:-1]):
            nxt = tokens[i + 1]
            if (
                tok in DETERMINERS
                and _noun_ok(nxt, in_object=False)
                and singular(nxt) not in candidates
                and _count(text, singular(nxt)) >= 2
            ):
                candidates[singular(nxt)] = len(candidates)
    # "report" is the same thing as "expense report" when both appear
    candidates = {e: i for e, i in candidates.items() if not any(o.endswith(f" {e}") for o in candidates)}
    ranked = sorted(candidates, key=lambda e: (-_count(text, e.split()[-1]), candidates[e]))
    non_roles = [e for e in ranked if e.split()[-1] not in ROLE_WORDS and e not in actors]
    return (non_roles or ranked)[:MAX_ENTITIES]


def _actors(text: str, capabilities: list[Capability]) -> tuple[list[str], list[str]]:
    explicit = [
        singular(m.group(1).split()[-1])
        for m in _AS_ROLE.finditer(text)
        if m.group(1).split()[-1].lower() not in STOPWORDS
    ]
    mentioned = [singular(t) for t in re.findall(r"[a-z]+", text.lower()) if singular(t) in ROLE_WORDS]
    ordered = list(dict.fromkeys(explicit + [c.actor for c in capabilities if c.actor] + mentioned))
    return ordered, list(dict.fromkeys(explicit))


def _fields(sentences: list[str], entities: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for entity in entities:
        names = f"(?:{re.escape(entity)}|{re.escape(plural(entity))})"
        for s in sentences:
            m = re.search(rf"\b{names}\b\s+{FIELD_INTRO}\s+(.+?)\s*(?:[.;]|$)", s, re.IGNORECASE)
            if not m:
                continue
            for part in re.split(r",|\band\b|\bor\b", m.group(1)):
                words = [w for w in re.findall(r"[a-z]+", part.lower()) if w not in DETERMINERS]
                name = " ".join(words[:3])
                if words and words[0] not in STOPWORDS and name not in result.setdefault(entity, []):
                    result[entity].append(name)
    return result


def _constraints(sentences: list[str]) -> list[Constraint]:
    found = []
    for s in sentences:
        for m in _CONSTRAINT.finditer(s):
            text = m.group(0).strip()
            low = text.lower()
            if re.search(r"uptime|availability", low) or (
                "%" in low and re.search(r"uptime|availab", s, re.IGNORECASE)
            ):
                kind = "availability"
            elif re.search(r"users|requests|rps|qps|transactions|orders|invoices|records|rows|items|files", low):
                kind = "scale"
            elif re.search(r"mb|gb|kb|tb", low):
                kind = "capacity"
            elif re.search(r"%|percent", low):
                kind = "quality"
            elif re.search(r"hours?|days?", low):
                kind = "process"  # a service level of people's work, not of the software
            else:
                kind = "performance"
            found.append(Constraint(text, kind, s))
    return found


def _in_order_of_appearance(text: str, terms: tuple[str, ...]) -> list[str]:
    low = text.lower()
    hits = [(m.start(), t) for t in terms for m in [re.search(rf"(?<![\w-]){re.escape(t)}(?![\w-])", low)] if m]
    return [t for _, t in sorted(hits)]


def analyse(title: str, content: str) -> Analysis:
    text = f"{title}.\n{content}" if title else content
    sentences = sentences_of(text)
    capabilities: list[Capability] = []
    for s in sentences:
        last = next((c.entity for c in reversed(capabilities) if c.entity), None)
        capabilities += [c for c in _sentence_capabilities(s, last) if _states_a_feature(c)]
    actors, explicit = _actors(text, capabilities)
    entities = _entities(text, sentences, capabilities, actors)
    capabilities = [
        c
        if c.entity in entities or c.entity is None or (c.verb in PEOPLE_VERBS and c.entity.split()[-1] in ROLE_WORDS)
        else Capability(c.verb, _nearest_entity(c, entities), c.actor, c.strength, c.benefit, c.sentence)
        for c in capabilities
    ]
    return Analysis(
        title=title.strip(),
        sentences=sentences,
        actors=actors,
        entities=entities,
        capabilities=capabilities,
        constraints=_constraints(sentences),
        fields=_fields(sentences, entities),
        topics=[t for t, words in TOPICS.items() if _in_order_of_appearance(text, words)],
        vague=_in_order_of_appearance(text, VAGUE_TERMS),
        formats=[f.upper() for f in _in_order_of_appearance(text, FORMATS)],
        word_count=len(re.findall(r"\w+", text)),
        explicit_roles=explicit,
    )


def _nearest_entity(c: Capability, entities: list[str]) -> str | None:
    """An object that is not a ranked entity: the entity with the same head noun ("report" for "expense report"),
    else an entity named in the same sentence."""
    head = (c.entity or "").split()[-1:]
    for e in entities:
        if e.split()[-1:] == head:
            return e
    low = c.sentence.lower()
    for e in entities:
        if re.search(rf"\b(?:{re.escape(e)}|{re.escape(plural(e))})\b", low):
            return e
    return c.entity
