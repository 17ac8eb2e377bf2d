"""CI holds the offline provider to its recorded rubric scores (`rdflow eval`): a drop in any check fails."""

from __future__ import annotations

import pytest

from integrations.json_schema import JsonSchemaValidator
from integrations.llm_offline import OfflineLLM
from server import evaluation
from server.container import sandbox_runner
from server.settings import Settings
from tests.reachable import reachable_dir


@pytest.fixture(scope="module")
def runs():
    import asyncio

    validator, llm = JsonSchemaValidator(), OfflineLLM()

    async def run_all(runner):
        return [await evaluation.run_case(llm, validator, case, runner) for case in evaluation.load_cases()]

    with reachable_dir("rdflow-eval-") as data_dir:  # default settings but the data dir: as `rdflow eval` runs
        return asyncio.run(run_all(sandbox_runner(Settings(data_dir=data_dir / "var"))))


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


async def test_the_generated_tests_run_in_the_run_tests_sandbox_with_its_limits():
    code = {"path": "calc.py", "content": "def add(a, b):\n    return a + b\n"}
    wrong = {
        "path": "tests/test_calc.py",
        "content": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 4\n",
    }
    endless = {"path": "tests/test_calc.py", "content": "def test_forever():\n    while True:\n        pass\n"}
    with reachable_dir("rdflow-eval-") as data_dir:
        # The CPU limit well above the wall-clock one: the endless loop is stopped by the wall clock, whatever the load.
        runner = sandbox_runner(Settings(data_dir=data_dir / "var", test_timeout_s=3, test_cpu_s=60))
        passed, output = await evaluation.run_generated_tests([code, wrong], runner)
        assert not passed and "tests/test_calc.py::test_add: " in output and "assert 3 == 4" in output, output
        passed, output = await evaluation.run_generated_tests([code, endless], runner)
        assert not passed and output.startswith("killed at the wall-clock limit of 3 s"), output
        assert sorted(p.name for p in (data_dir / "var" / "sandboxes").iterdir()) == []  # nothing left behind
