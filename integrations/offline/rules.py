"""A requirement's explicit business rules: time limits, rates, caps, thresholds, one-time use, allowed values."""

from __future__ import annotations

import re
from dataclasses import dataclass

from integrations.offline.analysis import sentences_of

UNITS = r"(working days?|business days?|seconds?|minutes?|hours?|days?|weeks?)"
_NUMBER = r"(\d[\d,]*(?:\.\d+)?)"
_WINDOW = r"(second|minute|hour|day|week|month|year)"
_NOUNS = r"([a-z]+(?:\s+[a-z]+s\b)?)"  # "questions", "active sessions"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("rate_limit", re.compile(rf"{_NUMBER}\s+(?:[a-z-]+\s+){{0,3}}?per\s+{_WINDOW}", re.IGNORECASE)),
    ("max_attempts", re.compile(rf"after\s+{_NUMBER}\s+(?:wrong|failed|invalid|incorrect)\s+([a-z]+)", re.I)),
    ("cutoff", re.compile(rf"{_NUMBER}\s+{UNITS}\s+before", re.IGNORECASE)),
    ("time_limit", re.compile(rf"\b(?:after|for|within|until|up to|in)\s+{_NUMBER}\s+{UNITS}", re.IGNORECASE)),
    ("size_limit", re.compile(rf"(?:up to|at most|no more than|maximum of)\s+{_NUMBER}\s*(kb|mb|gb)\b", re.I)),
    ("percent_limit", re.compile(rf"(?:up to|at most|no more than|maximum of)\s+{_NUMBER}\s*(%|percent)", re.I)),
    ("max_count", re.compile(rf"(?:up to|at most|no more than|maximum of|limited to)\s+{_NUMBER}\s+{_NOUNS}", re.I)),
    ("min_count", re.compile(rf"at least\s+{_NUMBER}\s+([a-z]+)", re.IGNORECASE)),
    ("non_negative", re.compile(r"\b(?:below|under|less than)\s+zero\b|\bnegative\b", re.IGNORECASE)),
    ("threshold", re.compile(rf"\b(above|over|more than|below|under|less than)\s+{_NUMBER}\s*([A-Za-z]+)?", re.I)),
    ("once", re.compile(r"\bonce\b|\bsingle[- ]use\b|\bone[- ]time\b", re.IGNORECASE)),
    ("no_overlap", re.compile(r"\boverlap", re.IGNORECASE)),
    ("allowed_values", re.compile(r"\b(?i:only)\s+([A-Z0-9]{2,}(?:(?:,\s*|\s+(?:and|or)\s+)[A-Z0-9]{2,})+)\b")),
    ("only_roles", re.compile(r"\b(?:visible|available|shown)\s+only\s+to\s+([a-z]+)", re.IGNORECASE)),
    ("expired_refused", re.compile(r"\bexpired\s+[a-z]+\s+(?:are|is)\s+(?:refused|rejected|denied)", re.I)),
    ("schedule", re.compile(r"\bevery\s+(night|day|hour|week|morning)\b|\b(nightly|daily|hourly|weekly)\b", re.I)),
]
# Sentences about the service's speed or load are non-functional requirements, not business rules.
_PERFORMANCE = re.compile(
    r"response time|\brespond|latency|\bp9\d|\bload\b|uptime|availab|concurrent|throughput|per second|"
    r"\b(?:finish|complete|return|process|render)(?:es|s|ed)?\s+within\b",
    re.IGNORECASE,
)
# What a sentence says after "so that" is the benefit, not a rule.
_BENEFIT = re.compile(r"\b(?:so that|in order to|so they can|so we can)\b.*$", re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    kind: str
    sentence: str
    amount: float | None = None
    unit: str = ""
    values: tuple[str, ...] = ()

    @property
    def whole(self) -> int | float | None:
        if self.amount is None:
            return None
        return int(self.amount) if self.amount == int(self.amount) else self.amount


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _rule(kind: str, m: re.Match[str], sentence: str) -> Rule:
    groups = list(m.groups())
    if kind in ("rate_limit", "max_attempts", "cutoff", "time_limit", "size_limit", "percent_limit"):
        return Rule(kind, sentence, _number(groups[0]), groups[1].lower())
    if kind in ("max_count", "min_count"):
        return Rule(kind, sentence, _number(groups[0]), groups[1].lower())
    if kind == "threshold":
        direction = "below" if groups[0].lower() in ("below", "under", "less than") else "above"
        return Rule(kind, sentence, _number(groups[1]), (groups[2] or "").lower(), (direction,))
    if kind == "allowed_values":
        return Rule(kind, sentence, values=tuple(v.lower() for v in re.findall(r"[A-Z0-9]{2,}", groups[0])))
    if kind == "only_roles":
        return Rule(kind, sentence, values=(groups[0].lower(),))
    if kind == "schedule":
        return Rule(kind, sentence, unit=(groups[0] or groups[1]).lower())
    return Rule(kind, sentence)


def rules_of(text: str) -> list[Rule]:
    """Every rule of `text` (a span taken by a more specific pattern is not matched again: "5 per hour" is a rate,
    not a time limit), in order; a sentence may hold several ("expires after 30 minutes and can be used once")."""
    found: list[Rule] = []
    for sentence in sentences_of(text):
        if _PERFORMANCE.search(sentence):
            continue
        taken: list[tuple[int, int]] = []
        stated = _BENEFIT.sub("", sentence)
        for kind, pattern in _PATTERNS:
            for m in pattern.finditer(stated):
                if any(m.start() < end and start < m.end() for start, end in taken):
                    continue
                if kind in ("max_count", "threshold") and re.match(UNITS, m.group(m.lastindex or 0) or "", re.I):
                    continue  # "up to 4 hours", "less than 2 hours" are time limits or goals, not counts
                taken.append(m.span())
                found.append(_rule(kind, m, sentence))
    return found


def summary(rules: list[Rule]) -> str:
    """The limits of some rules in a few words: "30 minutes; once"."""
    parts = []
    for r in rules:
        if r.kind == "rate_limit":
            parts.append(f"{r.whole} per {r.unit}")
        elif r.kind == "threshold":
            parts.append(f"{r.values[0]} {r.whole} {r.unit}".strip())
        elif r.amount is not None:
            parts.append(f"{r.whole}{'' if r.unit == '%' else ' '}{r.unit}".strip())
        elif r.values:
            parts.append(" and ".join(r.values))
        else:
            parts.append(r.kind.replace("_", " "))
    return "; ".join(dict.fromkeys(parts))
