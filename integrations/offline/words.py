"""Word lists and English inflection helpers the offline provider reads requirements with."""

from __future__ import annotations

import re

# canonical capability verb for each surface form (multi-word forms are matched first)
VERB_FORMS: dict[str, str] = {
    "log in": "log in",
    "login": "log in",
    "sign in": "log in",
    "signin": "log in",
    "log out": "log out",
    "logout": "log out",
    "sign out": "log out",
    "sign up": "register",
    "signup": "register",
    "register": "register",
    "create": "create",
    "add": "create",
    "enter": "create",
    "record": "create",
    "edit": "update",
    "update": "update",
    "modify": "update",
    "change": "update",
    "rename": "update",
    "delete": "delete",
    "remove": "delete",
    "view": "view",
    "see": "view",
    "browse": "view",
    "list": "list",
    "display": "view",
    "show": "view",
    "search": "search",
    "find": "search",
    "look up": "search",
    "filter": "filter",
    "sort": "sort",
    "export": "export",
    "download": "download",
    "import": "import",
    "upload": "upload",
    "approve": "approve",
    "reject": "reject",
    "decline": "reject",
    "submit": "submit",
    "reset": "reset",
    "pay": "pay",
    "refund": "refund",
    "cancel": "cancel",
    "archive": "archive",
    "assign": "assign",
    "reassign": "assign",
    "notify": "notify",
    "send": "send",
    "email": "send",
    "invite": "invite",
    "share": "share",
    "comment": "comment",
    "schedule": "schedule",
    "book": "book",
    "track": "track",
    "monitor": "track",
    "generate": "generate",
    "publish": "publish",
    "review": "review",
    "close": "close",
    "complete": "complete",
    "ship": "ship",
    "manage": "manage",
    "configure": "configure",
    "tag": "tag",
    "rate": "rate",
    "print": "print",
    "duplicate": "duplicate",
    "restore": "restore",
}

ROLE_WORDS = frozenset(
    {
        "user",
        "admin",
        "administrator",
        "manager",
        "customer",
        "client",
        "developer",
        "tester",
        "guest",
        "editor",
        "viewer",
        "operator",
        "employee",
        "agent",
        "seller",
        "buyer",
        "member",
        "owner",
        "approver",
        "accountant",
        "staff",
        "student",
        "teacher",
        "patient",
        "doctor",
        "nurse",
        "visitor",
        "author",
        "reviewer",
        "supervisor",
        "auditor",
        "vendor",
        "supplier",
        "driver",
        "partner",
        "analyst",
        "moderator",
        "subscriber",
        "instructor",
        "team",
        "colleague",
        "recipient",
        "lead",
        "team lead",
        "product owner",
        "support agent",
        "clerk",
        "cashier",
    }
)

IRREGULAR_PARTICIPLES = frozenset(
    {
        "paid",
        "sent",
        "built",
        "sold",
        "bought",
        "made",
        "held",
        "kept",
        "given",
        "taken",
        "written",
        "hidden",
        "chosen",
        "shown",
        "known",
        "done",
        "set",
    }
)

PREPOSITIONS = frozenset({"by", "via", "with", "through", "per", "of", "for", "from", "on", "in", "at"})

DETERMINERS = frozenset(
    {
        "the",
        "a",
        "an",
        "all",
        "each",
        "every",
        "any",
        "their",
        "his",
        "her",
        "its",
        "my",
        "our",
        "your",
        "this",
        "that",
        "these",
        "those",
        "some",
        "new",
        "existing",
        "own",
        "multiple",
        "several",
        "many",
        "other",
        "specific",
        "individual",
        "selected",
        "single",
        "current",
        "previous",
        "pending",
        "monthly",
        "weekly",
        "daily",
        "yearly",
        "open",
        "old",
        "recent",
    }
)

STOPWORDS = frozenset(
    {
        "i",
        "we",
        "you",
        "they",
        "he",
        "she",
        "it",
        "them",
        "us",
        "me",
        "who",
        "which",
        "what",
        "when",
        "where",
        "how",
        "why",
        "and",
        "or",
        "but",
        "not",
        "no",
        "nor",
        "so",
        "to",
        "of",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "onto",
        "as",
        "via",
        "per",
        "than",
        "then",
        "also",
        "only",
        "just",
        "be",
        "is",
        "are",
        "was",
        "were",
        "been",
        "being",
        "have",
        "has",
        "had",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "need",
        "needs",
        "want",
        "wants",
        "able",
        "allow",
        "allows",
        "let",
        "lets",
        "there",
        "here",
        "if",
        "else",
        "while",
        "within",
        "under",
        "over",
        "up",
        "down",
        "out",
        "about",
        "after",
        "before",
        "between",
        "without",
        "system",
        "application",
        "app",
        "platform",
        "feature",
        "features",
        "functionality",
        "ability",
        "way",
        "thing",
        "things",
        "data",
        "information",
        "info",
        "time",
        "second",
        "minute",
        "hour",
        "day",
        "week",
        "month",
        "year",
        "ms",
        "millisecond",
        "percent",
        "page",
        "screen",
        "button",
        "support",
        "requirement",
        "project",
        "use",
        "using",
        "etc",
        "least",
        "most",
        "more",
        "less",
        "fast",
        "quickly",
        "easily",
        "easy",
        "simple",
        "secure",
        "securely",
        "well",
        "very",
        "too",
        "again",
        "once",
        "always",
        "never",
        "both",
        "either",
        "neither",
        "same",
        "such",
        "one",
        "two",
        "three",
        "first",
        "last",
        "next",
        "k",
        "m",
        "like",
        "e",
        "g",
        "ie",
        "eg",
        "ensure",
        "make",
        "get",
        "go",
        "work",
        "works",
        "happen",
        "done",
        "based",
        "related",
        "whole",
        "entire",
        "given",
        "yes",
        "okay",
        "ok",
        "please",
        "note",
    }
)

VAGUE_TERMS = (
    "fast",
    "quickly",
    "quick",
    "easy",
    "easily",
    "user-friendly",
    "intuitive",
    "simple",
    "flexible",
    "scalable",
    "efficient",
    "appropriate",
    "several",
    "some",
    "etc",
    "tbd",
    "as needed",
    "as soon as possible",
    "asap",
    "robust",
    "seamless",
    "real-time",
    "modern",
    "secure",
    "somehow",
    "and so on",
)

_IRREGULAR_PLURALS = {
    "person": "people",
    "child": "children",
    "man": "men",
    "woman": "women",
    "staff": "staff",
    "data": "data",
    "analysis": "analyses",
    "status": "statuses",
}
_IRREGULAR_SINGULARS = {v: k for k, v in _IRREGULAR_PLURALS.items()}
_KEEP_S = ("ss", "us", "is", "news", "series", "species", "sms", "ics", "ous")


def singular(word: str) -> str:
    word = word.lower()
    if word in _IRREGULAR_SINGULARS:
        return _IRREGULAR_SINGULARS[word]
    if word in _IRREGULAR_PLURALS or word.endswith(_KEEP_S) or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zzes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def plural(word: str) -> str:
    head, _, last = word.lower().rpartition(" ")
    prefix = f"{head} " if head else ""
    if last in _IRREGULAR_PLURALS:
        return prefix + _IRREGULAR_PLURALS[last]
    if last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        return prefix + last[:-1] + "ies"
    if last.endswith(("s", "sh", "ch", "x", "z")):
        return prefix + last + "es"
    return prefix + last + "s"


def verb_base(word: str) -> str | None:
    """The canonical capability verb a single word is a form of (approves, approved, approving), or None."""
    word = word.lower()
    candidates = [word]
    if word.endswith("ies"):
        candidates.append(word[:-3] + "y")
    if word.endswith("es"):
        candidates.append(word[:-2])
    if word.endswith("s"):
        candidates.append(word[:-1])
    if word.endswith("ed"):
        candidates += [word[:-2], word[:-1], word[:-3] if word[-3:-2] == word[-4:-3] else word[:-2]]
    if word.endswith("ing"):
        candidates += [word[:-3], word[:-3] + "e", word[:-4] if word[-4:-3] == word[-5:-4] else word[:-3]]
    for c in candidates:
        if c in VERB_FORMS and " " not in c:
            return VERB_FORMS[c]
    return None


def snake(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "item"


def pascal(text: str) -> str:
    return "".join(part.capitalize() for part in snake(text).split("_")) or "Item"


def camel(text: str) -> str:
    p = pascal(text)
    return p[0].lower() + p[1:]


def article(word: str) -> str:
    low = word.lower()
    if low.startswith(("user", "uni", "use", "usu", "eu", "one")):
        return "a"
    return "an" if low[:1] in "aeiou" else "a"
