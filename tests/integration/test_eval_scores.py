"""CI holds the offline provider to its recorded rubric scores (`rdflow eval`): a drop in any check fails."""

from __future__ import annotations

import pytest

from integrations.json_schema import JsonSchemaValidator
from integrations.llm_offline import OfflineLLM
from server import evaluation


@pytest.fixture(scope="module")
def runs():
    import asyncio

    validator, llm = JsonSchemaValidator(), OfflineLLM()

    async def run_all():
        return [await evaluation.run_case(llm, validator, case) for case in evaluation.load_cases()]

    return asyncio.run(run_all())


def test_the_kept_cases_are_at_least_twelve_and_include_the_password_reset_text():
    cases = {c.id: c for c in evaluation.load_cases()}
    assert len(cases) >= 12
    assert "Rate-limit reset requests to 5 per hour per account." in cases["password-reset"].text


def test_no_rubric_score_is_below_its_recorded_value(runs):
    scores = evaluation.summarise(runs)
    assert evaluation.regressions("offline", scores, evaluation.recorded_scores()) == [], evaluation.misses(runs)


def test_the_password_reset_text_scores_full_marks(runs):
    """The issue's example: no "reset requests" feature, the 30-minute expiry, one-time use and the rate limit carried
    into the PRD, the tasks and the tests, FastAPI used, and the generated tests pass."""
    run = next(r for r in runs if r.case.id == "password-reset")
    assert {name: r.misses for name, r in run.results.items() if r.misses} == {}


def test_a_drop_below_a_recorded_score_is_reported():
    floors = {"offline": {"tests pass": 1.0}}
    assert evaluation.regressions("offline", {"tests pass": 0.9}, floors) == [
        "offline: tests pass scored 0.900, below the recorded 1.000"
    ]
