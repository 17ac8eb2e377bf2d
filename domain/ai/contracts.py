"""The contract of each AI step (prd, decompose, code, review): output schema, context keys, prompts, checks.

Validation: every answer is checked against its step's schema by a `SchemaValidator` the caller passes (the
composition root wires the jsonschema adapter), then against the step's semantic rules, before a job writes
anything; so the rule holds for every LLM adapter while the domain imports no library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from domain.ai import prompts, schemas, semantics
from domain.ai.schema_check import SchemaValidator, Violation
from domain.errors import AIOutputError, InvalidInput

STEPS: tuple[str, ...] = tuple(schemas.BY_STEP)


def _known(step: str) -> str:
    if step not in schemas.BY_STEP:
        raise InvalidInput(f"unknown AI step {step!r}; known steps: {', '.join(STEPS)}", field="step")
    return step


def schema(step: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the step's output; callers must not mutate it."""
    return schemas.BY_STEP[_known(step)]


def system_prompt(step: str) -> str:
    return prompts.SYSTEMS[_known(step)]


def default_prompt(step: str) -> str:
    """The default prompt template; its `{placeholders}` are the step's context keys."""
    return prompts.TEMPLATES[_known(step)]


def context_keys(step: str) -> tuple[str, ...]:
    """The keys of the `context` the step receives (also the template variables)."""
    return tuple(prompts.CONTEXT[_known(step)])


def context_help(step: str) -> dict[str, str]:
    """Each context key with a one-line description (for prompt template editors)."""
    return dict(prompts.CONTEXT[_known(step)])


def prompt_values(step: str, context: Mapping[str, Any]) -> dict[str, str]:
    """The context as template values: lists and files rendered as readable text."""
    _known(step)
    return {key: prompts.shown(value) for key, value in context.items()}


def violations_of(step: str, data: Any, validator: SchemaValidator) -> list[Violation]:
    """Every schema violation of `data`; when it fits the schema, every semantic one (keys, references, cycles)."""
    found = validator.violations(schema(step), data)
    if found:
        return found
    rules = semantics.BY_STEP.get(step)
    return rules(data) if rules else []


def problems(step: str, data: Any, validator: SchemaValidator) -> str | None:
    """What is wrong with `data` as the step's output, naming JSON paths; None when it is usable."""
    found = violations_of(step, data, validator)
    return _summary(found) if found else None


def validate(step: str, data: Any, validator: SchemaValidator) -> dict[str, Any]:
    """Return `data` when it is a usable output of `step`; otherwise raise AIOutputError naming the JSON paths."""
    found = violations_of(step, data, validator)
    if found:
        raise AIOutputError(
            f"the {step} output is invalid: {_summary(found)}",
            field="output",
            details={"step": step, "violations": [str(v) for v in found]},
        )
    return cast("dict[str, Any]", data)  # every step's schema (schemas.BY_STEP) has an object at its root


def _summary(found: list[Violation], shown: int = 3) -> str:
    more = f" (and {len(found) - shown} more)" if len(found) > shown else ""
    return "; ".join(map(str, found[:shown])) + more
