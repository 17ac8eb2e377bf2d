"""Project search values: the searchable kinds, a parsed query that every backend renders safely, and a hit."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import Enum

from domain.errors import InvalidInput
from domain.paging import MAX_PAGE_SIZE

MAX_QUERY_LENGTH = 500
MAX_QUERY_WORDS = 32
MAX_RESULTS = MAX_PAGE_SIZE  # the cost limit (schema/limits.py) prices `first` like a page
HIGHLIGHT_START = "«"
HIGHLIGHT_END = "»"
ELLIPSIS = "…"


class SearchKind(str, Enum):
    """What the index holds. A new kind: a member here, its KindSpec installed by its table's migration
    (persistence/search_schema.py) and its node's repository (resolvers/search.py)."""

    REQUIREMENT = "requirement"
    PRD = "prd"
    TASK = "task"
    ARTIFACT = "artifact"
    CONVERSATION = "conversation"  # found by its title or any one of its messages


Phrase = tuple[str, ...]


@dataclass(frozen=True)
class SearchTerms:
    """Every clause must match (AND); a clause matches when any of its phrases does (OR); no excluded phrase may.

    Words are runs of letters and digits only, so no backend's query syntax can be injected through them."""

    clauses: tuple[tuple[Phrase, ...], ...]
    excluded: tuple[Phrase, ...] = ()


@dataclass(frozen=True)
class SearchHit:
    kind: SearchKind
    entity_id: uuid.UUID
    title: str
    snippet: str  # matches wrapped in HIGHLIGHT_START / HIGHLIGHT_END, cut text marked with ELLIPSIS
    rank: float  # higher is better; comparable within one result list only


_WORD = re.compile(r"[^\W_]+")
# A quoted phrase, an OR, or a bare term (optionally negated with a leading '-').
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(?<!\S)(OR)(?!\S)|(-?)([^\s"]+)')


def _words(text: str) -> Phrase:
    return tuple(w.lower() for w in _WORD.findall(text))


def any_word_query(text: str, field: str = "text") -> SearchTerms:
    """Any of the text's words (a chat question, not search syntax): the first MAX_QUERY_WORDS distinct words,
    ORed, so the objects sharing the most words rank first."""
    check_text(text, field)
    words = list(dict.fromkeys(_words(text)))[:MAX_QUERY_WORDS]
    if not words:
        raise InvalidInput(f"{field} has no word to search for", field=field)
    return SearchTerms((tuple((w,) for w in words),))


def check_text(text: str, field: str) -> None:
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"{field} is {len(text)} characters; at most {MAX_QUERY_LENGTH} allowed", field=field)
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        raise InvalidInput(f"{field} must not contain control characters", field=field)


def parse_query(text: str, field: str = "text") -> SearchTerms:
    """Web-search syntax: words are ANDed, "quoted words" form a phrase, OR between terms, -term excludes.

    Punctuation and operators in odd places are ignored rather than refused; text without a word to look for,
    too long, or with control characters is InvalidInput naming `field`."""
    check_text(text, field)
    clauses: list[list[Phrase]] = []
    excluded: list[Phrase] = []
    pending_or = False
    for match in _TOKEN.finditer(text):
        if match.group(3):
            pending_or = bool(clauses)
            continue
        negated = bool(match.group(1) or match.group(4))
        phrase = _words(match.group(2) if match.group(2) is not None else match.group(5))
        if not phrase:
            continue
        if negated:
            excluded.append(phrase)
        elif pending_or:
            clauses[-1].append(phrase)
        else:
            clauses.append([phrase])
        pending_or = False
    if not clauses:
        raise InvalidInput(f"{field} has no word to search for", field=field)
    if sum(len(p) for c in clauses for p in c) + sum(len(p) for p in excluded) > MAX_QUERY_WORDS:
        raise InvalidInput(f"{field} has more than {MAX_QUERY_WORDS} words", field=field)
    return SearchTerms(tuple(tuple(c) for c in clauses), tuple(excluded))
