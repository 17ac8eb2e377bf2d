"""The offline assistant: answers from the numbered context, citing what it used, the same every time."""

from __future__ import annotations

from domain.ports import ChatTurn, StreamUsage
from integrations.llm_offline import OfflineLLM
from integrations.offline.chat import answer, tokens

ITEMS = [
    {
        "n": 1,
        "kind": "requirement",
        "title": "Password reset",
        "text": "A reset link expires after 30 minutes.",
        "facts": {"status": "APPROVED"},
    },
    {
        "n": 2,
        "kind": "task",
        "title": "[Backend] Issue single-use reset tokens",
        "text": "Tokens expire.",
        "facts": {"status": "IN_PROGRESS"},
    },
    {"n": 3, "kind": "task", "title": "[Testing] Reset flow tests", "text": "", "facts": {"status": "PENDING"}},
    {
        "n": 4,
        "kind": "test",
        "title": "tests/test_reset.py::test_link_expires",
        "text": "AssertionError: accepted after 31 minutes",
        "facts": {"artifact": "tests/test_reset.py", "failed": 1, "total": 4, "task": "[Testing] Reset flow tests"},
    },
    {
        "n": 5,
        "kind": "test",
        "title": "test_rate_limit",
        "text": "AssertionError: 6th request allowed",
        "facts": {"artifact": "tests/test_limits.py", "failed": 1, "total": 2},
    },
    {"n": 6, "kind": "deployment", "title": "DEV deployment 1.2.0", "text": "", "facts": {"status": "FAILED"}},
]


def test_a_named_failing_test_is_explained_from_its_failure_its_task_and_the_requirement():
    text = answer("Why does test_link_expires fail?", ITEMS)
    assert text.startswith("`tests/test_reset.py::test_link_expires` fails [4] in tests/test_reset.py")
    assert "accepted after 31 minutes" in text
    assert '"[Testing] Reset flow tests", which is PENDING [3]' in text and "[1]" in text
    assert "[5]" not in text


def test_an_unnamed_test_question_picks_the_best_matching_failure_and_counts_the_others():
    text = answer("which test about the rate limit is failing?", ITEMS)
    assert text.startswith("`test_rate_limit` fails [5]") and "1 other failing test(s)" in text


def test_a_test_that_is_not_recorded_is_said_so():
    text = answer("why does test_login fail?", ITEMS)
    assert text.startswith("No failing test named test_login is recorded.") and "[4]" in text and "[5]" in text


def test_other_questions_summarise_the_best_matching_items():
    text = answer("What is the status of the deployment?", ITEMS)
    assert text.startswith('From the project\'s records: Deployment "DEV deployment 1.2.0" (status FAILED) [6].')
    assert answer("anything?", []).startswith("I have no project context")


def test_tokens_rejoin_to_the_text():
    text = "One  two\nthree [1]."
    assert "".join(tokens(text)) == text and len(tokens(text)) == 4


async def test_the_offline_stream_is_deterministic_and_reports_usage_last():
    async def run() -> list:
        return [
            piece
            async for piece in OfflineLLM().stream_text(
                system="context",
                messages=[ChatTurn("user", "Why does test_link_expires fail?")],
                context={"items": ITEMS},
            )
        ]

    first, second = await run(), await run()
    assert first == second
    assert isinstance(first[0], StreamUsage) and isinstance(first[-1], StreamUsage)
    assert first[-1].output_tokens > 0 and first[-1].model == "offline-v1"
    assert "".join(p for p in first if isinstance(p, str)) == answer("Why does test_link_expires fail?", ITEMS)
