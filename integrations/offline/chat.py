"""The offline assistant's answer: picks the context items a question is about and explains them, citing each [n].

A question about a failing test ("why does test_x fail?") is answered from that test's failure message, the file and
task it belongs to and what the requirement asks; other questions get the best-matching items summarised.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

WORD = re.compile(r"[a-z0-9_]+")
TEST_NAME = re.compile(r"\btest_\w+")
STOP = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "about",
        "can",
        "did",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "of",
        "on",
        "or",
        "the",
        "this",
        "to",
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
        "we",
        "our",
        "be",
        "has",
        "have",
        "there",
        "their",
        "that",
        "these",
        "those",
        "tell",
        "please",
        "show",
    }
)
TEST_WORDS = frozenset({"test", "tests", "testing", "coverage"})
FAILURE_WORDS = frozenset({"fail", "fails", "failing", "failed", "failure", "broken", "red", "error", "errors"})
KIND_WORDS = {
    "task": frozenset({"task", "tasks", "todo", "work", "status", "progress", "left", "remaining"}),
    "deployment": frozenset({"deploy", "deployment", "deployments", "release", "rollout", "deployed", "production"}),
    "prd": frozenset({"prd", "spec", "acceptance", "criteria", "feature", "features", "scope"}),
    "requirement": frozenset({"requirement", "requirements", "goal", "ask", "asked"}),
    "test": FAILURE_WORDS | TEST_WORDS,
}
MAX_SUMMARISED = 3
MAX_QUOTE = 300


def _words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOP and len(w) > 1}


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 1] + "…"


def _score(item: dict[str, Any], question: str, asked: set[str]) -> float:
    title = str(item.get("title", ""))
    # test_rate_limit is about "rate" and "limit"
    score = 3.0 * len(asked & _words(title.replace("_", " "))) + len(asked & _words(str(item.get("text", ""))))
    if title and title.lower() in question.lower():
        score += 10
    score += 2.0 * len(asked & KIND_WORDS.get(str(item.get("kind")), frozenset()))
    return score


def short_name(title: str) -> str:
    """A test's function name: tests/test_x.py::TestY::test_z[1] -> test_z."""
    return title.split("::")[-1].split("[")[0].lower()


def _first(items: Sequence[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((i for i in items if i.get("kind") == kind), None)


def _failing_test_answer(test: dict[str, Any], items: Sequence[dict[str, Any]]) -> str:
    facts = test.get("facts") or {}
    name = test["title"]
    parts = [f"`{name}` fails [{test['n']}]"]
    where = facts.get("artifact")
    if where:
        parts[0] += f" in {where} ({facts.get('failed', '?')} of {facts.get('total', '?')} tests failing in that run)"
    message = _quote(str(test.get("text") or ""))
    if message and message[-1] not in ".!?":
        message += "."
    parts[0] += f": {message}" if message else "; the run recorded no failure message."
    tasks = [i for i in items if i.get("kind") == "task"]
    task = next((t for t in tasks if t["title"] == facts.get("task")), None)
    if task is None:  # the run's task is not in the context: the task whose words the test's name shares most
        subject = _words(short_name(name).removeprefix("test_").replace("_", " "))
        task = max(tasks, key=lambda t: len(subject & _words(f"{t['title']} {t.get('text', '')}")), default=None)
        task = task if task is not None and subject & _words(f"{task['title']} {task.get('text', '')}") else None
    if task is not None:
        status = (task.get("facts") or {}).get("status", "?")
        parts.append(f'It belongs to task "{task["title"]}", which is {status} [{task["n"]}].')
    requirement = _first(items, "requirement")
    if requirement is not None:
        asks = _quote(str(requirement.get("text", "")))
        parts.append(f'The requirement "{requirement["title"]}" asks: {asks} [{requirement["n"]}].')
    parts.append(
        "Compare the assertion in the failure message with that expectation: fix the code if it misses the "
        "behaviour, or the test if the expectation changed."
    )
    return " ".join(parts)


def _summary(item: dict[str, Any]) -> str:
    facts = ", ".join(f"{k} {v}" for k, v in (item.get("facts") or {}).items())
    text = _quote(str(item.get("text") or ""))
    line = f'{item["kind"].capitalize()} "{item["title"]}"' + (f" ({facts})" if facts else "")
    return line + (f": {text}" if text else "") + f" [{item['n']}]."


def answer(question: str, items: Sequence[dict[str, Any]]) -> str:
    """A deterministic answer to `question` from the numbered context `items` (dicts with n, kind, title, text,
    facts), citing what it used as [n]."""
    if not items:
        return "I have no project context for this conversation yet: nothing is recorded about its subject."
    asked = _words(question)
    tests = [i for i in items if i.get("kind") == "test"]
    named = set(TEST_NAME.findall(question.lower()))
    ranked = sorted(items, key=lambda i: (-_score(i, question, asked), i["n"]))
    # "why does X fail?" is about a test when it names one, says "test", or a failing test matches it best
    about_tests = bool(named or asked & TEST_WORDS or (asked & FAILURE_WORDS and ranked[0].get("kind") == "test"))
    if tests and about_tests:
        exact = [
            t for t in tests if short_name(str(t["title"])) in named or str(t["title"]).lower() in question.lower()
        ]
        if exact:
            return _failing_test_answer(exact[0], items)
        if not named:
            best = max(tests, key=lambda t: _score(t, question, asked))
            others = len(tests) - 1
            more = f" {others} other failing test(s) are recorded as well." if others else ""
            return _failing_test_answer(best, items) + more
        return f"No failing test named {', '.join(sorted(named))} is recorded. " + _listing(tests)
    if about_tests:
        return "No failing tests are recorded for this subject. " + _listing(items[:MAX_SUMMARISED])
    return "From the project's records: " + " ".join(_summary(i) for i in ranked[:MAX_SUMMARISED])


def _listing(items: Sequence[dict[str, Any]]) -> str:
    return "Recorded: " + "; ".join(f'{i["kind"]} "{i["title"]}" [{i["n"]}]' for i in items) + "."


def tokens(text: str) -> list[str]:
    """The answer as a stream would carry it: each word with the spaces after it (joined, the text again)."""
    return re.findall(r"\S+\s*|\s+", text)
