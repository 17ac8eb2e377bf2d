"""Each rubric check fails on the output it exists to catch, and passes on output that does the job."""

from __future__ import annotations

import pytest

from domain.ai import rubric

CASE = rubric.Case.from_mapping(
    {
        "id": "password-reset",
        "title": "Password reset",
        "text": "Users can reset their password by email. A reset link expires after 30 minutes and can be used once. "
        "Rate-limit reset requests to 5 per hour per account.",
        "framework": "FastAPI",
        "forbidden": ["reset requests"],
        "constraints": [
            {"id": "expiry", "groups": [["30 minutes"]]},
            {"id": "single use", "groups": [["once", "single-use"]]},
            {"id": "rate limit", "groups": [["5 per hour"]]},
        ],
    }
)
GOOD_PRD = {
    "sections": [
        {"section_id": "features", "content": "", "features": [{"id": "F1", "name": "Reset passwords"}]},
        {
            "section_id": "acceptance_criteria",
            "content": "R1: the link expires after 30 minutes and can be used once. R2: at most 5 per hour.",
            "features": [],
        },
    ]
}
GOOD_TASKS = [
    {
        "name": "[Backend] Enforce rule R1",
        "description": "expires after 30 minutes; single-use",
        "task_type": "BACKEND",
    },
    {"name": "[Backend] Enforce rule R2", "description": "5 per hour per account", "task_type": "BACKEND"},
]
GOOD_FILES = [
    {"path": "password_resets/routes.py", "content": "from fastapi import FastAPI\n"},
    {
        "path": "tests/test_rules.py",
        "content": "def test_link_expires():\n    assert limit == timedelta(minutes=30)\n\n"
        "def test_used_once():\n    use('k')\n\n"
        "def test_rate():\n    for _ in range(5):\n        hit()  # per hour\n",
    },
]


def outputs(**changes):
    base = {"prd": GOOD_PRD, "tasks": GOOD_TASKS, "files": GOOD_FILES, "tests_passed": True}
    return rubric.Outputs(**{**base, **changes})


def test_good_output_scores_full_marks():
    assert {name: r.score for name, r in rubric.score(CASE, outputs()).items()} == dict.fromkeys(rubric.CHECKS, 1.0)


def test_a_constraint_missing_from_the_acceptance_criteria_is_named():
    prd = {"sections": [{**GOOD_PRD["sections"][1], "content": "R1: the link expires after 30 minutes."}]}
    result = rubric.constraints_in_prd(CASE, outputs(prd=prd))
    assert (result.passed, result.total, result.misses) == (1, 3, ("single use", "rate limit"))


def test_a_number_inside_a_larger_one_does_not_count():
    prd = {"sections": [{**GOOD_PRD["sections"][1], "content": "30 minutes, once, 15 per hour"}]}
    assert rubric.constraints_in_prd(CASE, outputs(prd=prd)).misses == ("rate limit",)


def test_a_constraint_no_task_covers_is_named():
    result = rubric.constraints_in_tasks(CASE, outputs(tasks=GOOD_TASKS[:1]))
    assert result.misses == ("rate limit",)


@pytest.mark.parametrize("where", ["feature", "task"])
def test_an_invented_feature_fails(where):
    if where == "feature":
        prd = {"sections": [{"section_id": "features", "features": [{"name": "Reset requests"}]}]}
        result = rubric.no_invented_features(CASE, outputs(prd=prd))
    else:
        result = rubric.no_invented_features(CASE, outputs(tasks=[{"name": "Build the reset requests screens"}]))
    assert (result.score, result.misses) == (0.0, ("reset requests",))


def test_code_without_the_requested_framework_fails():
    files = [{"path": "app/routes.py", "content": "from starlette.applications import Starlette\n"}]
    assert rubric.framework_used(CASE, outputs(files=files)).score == 0.0


@pytest.mark.parametrize("path", ["requests/service.py", "json.py", "app/typing.py"])
def test_a_module_named_after_a_known_library_fails(path):
    result = rubric.no_shadowing_names(CASE, outputs(files=[{"path": path, "content": ""}]))
    assert result.score == 0.0


def test_failing_or_unrun_generated_tests_fail():
    assert rubric.tests_pass(CASE, outputs(tests_passed=False, test_output="1 failed")).misses == ("1 failed",)
    assert rubric.tests_pass(CASE, outputs(tests_passed=None)).score == 0.0


def test_a_constraint_no_test_exercises_is_named():
    files = [{"path": "tests/test_rules.py", "content": "def test_link_expires():\n    assert minutes == 30\n"}]
    result = rubric.tests_cover_constraints(CASE, outputs(files=files))
    assert result.misses == ("single use", "rate limit")


def test_values_outside_test_functions_do_not_count():
    files = [{"path": "tests/test_rules.py", "content": "LIMIT = 30  # minutes, once, 5 per hour\n"}]
    assert rubric.tests_cover_constraints(CASE, outputs(files=files)).passed == 0
