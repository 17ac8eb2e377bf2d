"""The AI step contracts: schemas, prompts, and the output check naming the JSON path of every breakage."""

from __future__ import annotations

import asyncio
import copy

import pytest
from jsonschema import Draft202012Validator

from domain.ai import contracts
from domain.errors import AIOutputError, InvalidInput
from domain.services.prompting import check_template
from integrations.json_schema import JsonSchemaValidator
from integrations.llm_offline import OfflineLLM

VALIDATOR = JsonSchemaValidator()

CONTEXTS = {
    "prd": {
        "title": "Invoices",
        "content": "Managers approve invoices. Each invoice has an amount and a due date.",
        "priority": "HIGH",
        "project_name": "Billing",
        "tech_stack": "python",
    },
    "decompose": {
        "title": "Invoices",
        "content": "Managers approve invoices and export them to CSV.",
        "strategy": "ROLE_BASED",
        "target_roles": ["BACKEND", "FRONTEND", "TESTING"],
        "prd_sections": [],
    },
    "code": {
        "task_name": "[Backend] Implement approve invoices",
        "task_description": "",
        "task_type": "BACKEND",
        "language": "python",
        "framework": "starlette",
        "include_tests": True,
        "include_docs": False,
        "coding_standards": "",
        "requirement": "Invoices\n\nManagers approve invoices with an amount.",
    },
    "review": {
        "files": [{"path": "app.py", "language": "python", "content": "def f(x=[]):\n    return x\n"}],
        "focus": "app.py",
    },
}


def offline_output(step: str) -> dict:
    result = asyncio.run(
        OfflineLLM().complete_json(
            step=step,
            system=contracts.system_prompt(step),
            prompt="",
            schema=contracts.schema(step),
            context=CONTEXTS[step],
        )
    )
    return result.data


@pytest.mark.parametrize("step", contracts.STEPS)
def test_schema_is_valid_draft_2020_12(step):
    Draft202012Validator.check_schema(contracts.schema(step))


@pytest.mark.parametrize("step", contracts.STEPS)
def test_default_prompt_uses_only_the_steps_context_keys(step):
    check_template(contracts.default_prompt(step), list(contracts.context_keys(step)))
    assert contracts.system_prompt(step)
    assert set(contracts.context_help(step)) == set(contracts.context_keys(step))


def test_unknown_step_is_refused_by_name():
    with pytest.raises(InvalidInput) as caught:
        contracts.schema("summarise")
    assert "summarise" in caught.value.message and caught.value.field == "step"


def test_prompt_values_render_files_with_line_numbers_and_lists_as_text():
    values = contracts.prompt_values("review", CONTEXTS["review"])
    assert "--- app.py (python)" in values["files"]
    assert "    2|     return x" in values["files"]
    assert contracts.prompt_values("decompose", CONTEXTS["decompose"])["target_roles"] == "BACKEND, FRONTEND, TESTING"


def _breakages(step: str, data: dict) -> list[tuple[str, dict]]:
    """(expected path prefix, broken copy) pairs covering every keyword the schemas use."""
    list_key = {"prd": "sections", "decompose": "tasks", "code": "files", "review": "findings"}[step]
    item = data[list_key][0]
    cases = []

    def broken(path: str, change) -> None:
        copied = copy.deepcopy(data)
        change(copied, copied[list_key][0])
        cases.append((path, copied))

    first_key = next(iter(item))
    broken(f"$.{list_key}[0]", lambda d, i: i.pop(first_key))  # required
    broken(f"$.{list_key}[0]", lambda d, i: i.update(surprise=1))  # additionalProperties
    broken(f"$.{list_key}[0].{first_key}", lambda d, i: i.update({first_key: 7}))  # type / enum / pattern
    broken("$", lambda d, i: d.update(extra=True))
    broken(f"$.{list_key}", lambda d, i: d.update({list_key: "not a list"}))
    if step == "prd":
        broken("$.sections[0].ai_generated", lambda d, i: i.update(ai_generated=False))  # const
        broken("$.sections[0].title", lambda d, i: i.update(title=""))  # minLength
    if step == "decompose":
        broken("$.tasks[0].estimated_hours", lambda d, i: i.update(estimated_hours=-1))  # minimum
        broken("$.tasks[0].estimated_hours", lambda d, i: i.update(estimated_hours=True))  # bool is no number
        broken("$.tasks[0].task_type", lambda d, i: i.update(task_type="QA"))  # enum
        broken("$.tasks[0].key", lambda d, i: i.update(key="has space"))  # pattern
    if step == "code":
        broken("$.files[0].path", lambda d, i: i.update(path="../etc/passwd"))
        broken("$.files[0].path", lambda d, i: i.update(path="/abs/file.py"))
        broken("$.files", lambda d, i: d.update(files=[]))  # minItems
    if step == "review":
        broken("$.findings[0].line", lambda d, i: i.update(line=0))
        broken("$.findings[0].line", lambda d, i: i.update(line="12"))
        broken("$.recommended_decision", lambda d, i: d.update(recommended_decision="MAYBE"))
    return cases


@pytest.mark.parametrize("step", contracts.STEPS)
def test_every_breakage_is_refused_naming_its_path(step):
    data = offline_output(step)
    assert contracts.problems(step, data, VALIDATOR) is None
    for path, bad in _breakages(step, data):
        problem = contracts.problems(step, bad, VALIDATOR)
        assert problem is not None and path in problem, (path, problem)


def test_validate_raises_a_domain_error_naming_the_path():
    data = offline_output("decompose")
    data["tasks"][1]["priority"] = "URGENT"
    with pytest.raises(AIOutputError) as caught:
        contracts.validate("decompose", data, VALIDATOR)
    assert "$.tasks[1].priority" in caught.value.message
    assert caught.value.field == "output"
    assert caught.value.details["violations"] == [
        "$.tasks[1].priority: 'URGENT' is not one of ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']"
    ]


def _task(key: str, depends_on: list[str]) -> dict:
    return {
        "key": key,
        "name": key,
        "task_type": "BACKEND",
        "description": "",
        "estimated_hours": 1,
        "priority": "LOW",
        "depends_on": depends_on,
    }


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        ([_task("a", ["b"]), _task("b", ["c"]), _task("c", ["a"])], "cycle: a -> b -> c -> a"),
        ([_task("a", ["ghost"])], "$.tasks[0].depends_on[0]: unknown task key 'ghost'"),
        ([_task("a", ["a"])], "$.tasks[0].depends_on[0]: task 'a' depends on itself"),
        ([_task("a", []), _task("a", [])], "$.tasks[1].key: 'a' repeats $.tasks[0]"),
    ],
)
def test_decompose_rules_beyond_the_schema(tasks, expected):
    problem = contracts.problems("decompose", {"tasks": tasks, "total_estimated_hours": len(tasks)}, VALIDATOR)
    assert problem is not None and expected in problem


def test_prd_needs_every_section_once_and_consistent_features():
    data = offline_output("prd")
    assert contracts.problems("prd", {"sections": data["sections"][:-1] + data["sections"][:1]}, VALIDATOR) == (
        "$.sections[5].section_id: 'overview' repeats $.sections[0]; $.sections: missing sections: open_questions"
    )
    renamed = copy.deepcopy(data)
    renamed["sections"][2]["features"][0]["name"] = "Something else"
    assert "feature F1 is named 'Something else' here" in contracts.problems("prd", renamed, VALIDATOR)


def test_code_paths_must_be_distinct_files():
    data = {
        "files": [
            {"path": "a/b.py", "language": "python", "content": ""},
            {"path": "a/./b.py", "language": "python", "content": ""},
        ],
        "notes": "",
    }
    assert contracts.problems("code", data, VALIDATOR) == "$.files[1].path: 'a/./b.py' is the same file as $.files[0]"
