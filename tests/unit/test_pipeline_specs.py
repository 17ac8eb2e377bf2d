"""Pipeline definitions: the default stages, and what a project's own stages must respect."""

from __future__ import annotations

import pytest

from domain.enums import Environment, StageKind, TestType
from domain.errors import InvalidInput
from domain.pipeline_specs import DEFAULT_STAGES, MAX_STAGES, StageSpec, validate_stages

K = StageKind


def test_the_default_is_test_build_dev_approval_prod():
    assert [(s.name, s.kind, s.environment) for s in validate_stages(DEFAULT_STAGES)] == [
        ("test", K.TEST, None),
        ("build", K.BUILD, None),
        ("deploy dev", K.DEPLOY, Environment.DEV),
        ("approval", K.APPROVAL, None),
        ("deploy prod", K.DEPLOY, Environment.PROD),
    ]


def test_a_project_may_choose_its_own_stages():
    stages = validate_stages(
        [
            StageSpec("Unit", K.TEST),
            StageSpec("integration", K.TEST, test_type=TestType.INTEGRATION),
            StageSpec("staging", K.DEPLOY, Environment.STAGING),
        ]
    )
    assert [(s.name, s.test_type) for s in stages] == [
        ("unit", TestType.UNIT),
        ("integration", TestType.INTEGRATION),
        ("staging", None),
    ]
    assert [StageSpec.from_json(s.to_json()) for s in stages] == stages


@pytest.mark.parametrize(
    ("stages", "field", "says"),
    [
        ([], "stages", "at least one stage"),
        ([StageSpec("t", K.TEST)] * (MAX_STAGES + 1), "stages", "at most"),
        ([StageSpec("", K.TEST)], "stages[0]", "lowercase letters"),
        ([StageSpec("a/b", K.BUILD)], "stages[0]", "lowercase letters"),
        ([StageSpec("t", K.TEST), StageSpec("T", K.BUILD)], "stages[1]", "used twice"),
        ([StageSpec("d", K.DEPLOY)], "stages[0]", "needs an environment"),
        ([StageSpec("b", K.BUILD, Environment.DEV)], "stages[0]", "only DEPLOY takes an environment"),
        ([StageSpec("b", K.BUILD, test_type=TestType.UNIT)], "stages[0]", "only TEST takes a testType"),
        ([StageSpec("a", K.APPROVAL)], "stages[0]", "must be a DEPLOY"),
        ([StageSpec("a", K.APPROVAL), StageSpec("b", K.BUILD)], "stages[0]", "must be a DEPLOY"),
        ([StageSpec("p", K.DEPLOY, Environment.PROD)], "stages[0]", "must be an APPROVAL"),
        (
            [StageSpec("t", K.TEST), StageSpec("p", K.DEPLOY, Environment.PROD)],
            "stages[1]",
            "must be an APPROVAL",
        ),
    ],
)
def test_invalid_stages_name_the_stage_and_the_rule(stages, field, says):
    with pytest.raises(InvalidInput, match=says) as refused:
        validate_stages(stages)
    assert refused.value.field == field
