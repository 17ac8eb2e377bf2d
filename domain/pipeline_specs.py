"""A project's pipeline definition: its ordered stages, validated, and the default one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.enums import Environment, StageKind, TestType
from domain.errors import InvalidInput

MAX_STAGES = 20
STAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,49}\Z")


@dataclass(frozen=True)
class StageSpec:
    name: str
    kind: StageKind
    environment: Environment | None = None
    test_type: TestType | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "environment": self.environment.value if self.environment else None,
            "testType": self.test_type.value if self.test_type else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StageSpec:
        return cls(
            name=data["name"],
            kind=StageKind(data["kind"]),
            environment=Environment(data["environment"]) if data.get("environment") else None,
            test_type=TestType(data["testType"]) if data.get("testType") else None,
        )


DEFAULT_STAGES: tuple[StageSpec, ...] = (
    StageSpec("test", StageKind.TEST, test_type=TestType.UNIT),
    StageSpec("build", StageKind.BUILD),
    StageSpec("deploy dev", StageKind.DEPLOY, environment=Environment.DEV),
    StageSpec("approval", StageKind.APPROVAL),
    StageSpec("deploy prod", StageKind.DEPLOY, environment=Environment.PROD),
)


def validate_stages(stages: Sequence[StageSpec]) -> list[StageSpec]:
    """The stages as given, or InvalidInput naming the stage (`stages[i]`) and what is wrong with it.

    An APPROVAL gate releases the DEPLOY right after it (that deployment waits for a second admin), so every
    APPROVAL is followed by a DEPLOY and every DEPLOY to PROD, which always needs approval, follows an APPROVAL.
    """
    if not stages:
        raise InvalidInput("a pipeline needs at least one stage", field="stages")
    if len(stages) > MAX_STAGES:
        raise InvalidInput(f"a pipeline has at most {MAX_STAGES} stages, got {len(stages)}", field="stages")
    seen: set[str] = set()
    checked: list[StageSpec] = []
    for i, stage in enumerate(stages):
        field = f"stages[{i}]"
        name = stage.name.strip().lower()
        if not STAGE_NAME.match(name):
            raise InvalidInput(
                f"{field}.name {stage.name!r} must be 1-50 lowercase letters, digits, spaces, _ or -", field=field
            )
        if name in seen:
            raise InvalidInput(f"{field}.name {name!r} is used twice", field=field)
        seen.add(name)
        if stage.kind is StageKind.DEPLOY and stage.environment is None:
            raise InvalidInput(f"{field} deploys: it needs an environment", field=field)
        if stage.kind is not StageKind.DEPLOY and stage.environment is not None:
            raise InvalidInput(f"{field} is a {stage.kind.value} stage: only DEPLOY takes an environment", field=field)
        if stage.kind is not StageKind.TEST and stage.test_type is not None:
            raise InvalidInput(f"{field} is a {stage.kind.value} stage: only TEST takes a testType", field=field)
        following = stages[i + 1] if i + 1 < len(stages) else None
        if stage.kind is StageKind.APPROVAL and (following is None or following.kind is not StageKind.DEPLOY):
            raise InvalidInput(f"{field} is an APPROVAL: the stage after it must be a DEPLOY", field=field)
        previous = stages[i - 1] if i > 0 else None
        if stage.environment is Environment.PROD and (previous is None or previous.kind is not StageKind.APPROVAL):
            raise InvalidInput(f"{field} deploys to PROD: the stage before it must be an APPROVAL", field=field)
        test_type = stage.test_type or (TestType.UNIT if stage.kind is StageKind.TEST else None)
        checked.append(StageSpec(name, stage.kind, stage.environment, test_type))
    return checked
