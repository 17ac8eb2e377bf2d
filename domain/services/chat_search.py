"""Project search as chat context: the question's words, any of them, over the project's knowledge base, but not
the conversation being answered (its turns are in the prompt already, and its question would always find it)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from domain.errors import Forbidden, InvalidInput, NotFound, ServiceUnavailable, Unauthenticated
from domain.model import Conversation
from domain.permissions import Viewer
from domain.search import HIGHLIGHT_END, HIGHLIGHT_START, SearchKind
from domain.services.chat_context import MAX_SEARCH_HITS, ContextItem, SearchFn
from domain.services.search import SearchService

MAX_WORDS = 12
WORD = re.compile(r"[^\W_]{3,}")
STOP = frozenset(
    {
        "and",
        "are",
        "can",
        "did",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "not",
        "the",
        "that",
        "this",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "you",
        "your",
        "about",
        "there",
        "their",
        "tell",
    }
)
ENTITY_TYPES = {
    "requirement": "Requirement",
    "prd": "PrdDocument",
    "task": "Task",
    "artifact": "CodeArtifact",
    "conversation": "Conversation",
}


def query_of(question: str) -> str | None:
    """Any of the question's significant words (search ANDs bare words; a question rarely has them all)."""
    words = list(dict.fromkeys(w.lower() for w in WORD.findall(question) if w.lower() not in STOP))[:MAX_WORDS]
    return " OR ".join(words) or None


def search_for_chat(search: SearchService) -> SearchFn:
    """The chat's search seam over the project search: the best hits as context items, none when search is down."""

    async def find(viewer: Viewer, conversation: Conversation, question: str) -> Sequence[ContextItem]:
        query = query_of(question)
        if query is None:
            return []
        try:
            # One more than kept: the conversation being answered may be among the hits (once at most).
            found = await search.search(
                viewer, conversation.project_id, query, list(SearchKind), first=MAX_SEARCH_HITS + 1
            )
        except (InvalidInput, ServiceUnavailable, NotFound, Forbidden, Unauthenticated):
            return []  # nothing searchable, or search unavailable: the chat answers from the rest of its context
        hits = [h for h in found if (h.kind, h.entity_id) != (SearchKind.CONVERSATION, conversation.id)]
        return [
            ContextItem(
                hit.kind.value,
                ENTITY_TYPES[hit.kind.value],
                str(hit.entity_id),
                hit.title,
                hit.snippet.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_END, ""),
                {"found by": "search"},
            )
            for hit in hits[:MAX_SEARCH_HITS]
            if hit.kind.value in ENTITY_TYPES
        ]

    return find
