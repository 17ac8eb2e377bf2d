"""`rdflow eval`: runs the AI pipeline's steps over the kept requirement texts and scores them with the rubric."""

from __future__ import annotations

import asyncio
import json
import sys
import tomllib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from domain.ai import rubric
from domain.ai.schema_check import SchemaValidator
from domain.enums import TestType
from domain.errors import DomainError
from domain.ports import LLM, SourceFile, TestRunner
from domain.services.pipeline import DEFAULT_ROLES
from domain.services.prompting import ask

CASES = resources.files("server") / "eval" / "cases.toml"
RECORDED = resources.files("server") / "eval" / "scores.json"


def load_cases(path: Path | None = None) -> list[rubric.Case]:
    raw = tomllib.loads(path.read_text() if path else CASES.read_text())
    return [rubric.Case.from_mapping(c) for c in raw["case"]]


def recorded_scores() -> dict[str, dict[str, float]]:
    """The lowest score each provider may reach per check (the regression floor CI holds the offline provider to)."""
    floors: dict[str, dict[str, float]] = json.loads(RECORDED.read_text())
    return floors


def _backend_task(tasks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return next((t for t in tasks if t["task_type"] == "BACKEND"), tasks[0])


async def run_generated_tests(files: Sequence[dict[str, Any]], runner: TestRunner) -> tuple[bool, str]:
    """Run all the generated tests (E2E: none left out) the way runTests does: the TestRunner's sandbox, with its
    limits and interpreter. Passed means pytest ran tests and none failed."""
    if not any(Path(f["path"]).name.startswith("test_") for f in files):
        return False, "no test file was generated"
    sources = [SourceFile(f["path"], f["content"].encode()) for f in files]
    report = await runner.run(f"eval-{uuid.uuid4().hex}", sources, TestType.E2E)
    passed = report.error is None and report.total > 0 and report.failed == 0
    problems = [report.error] if report.error else []
    problems += [f"{f.name}: {f.message}" for f in report.failures]
    return passed, "\n".join([*problems, report.output[-2000:]])


@dataclass(frozen=True)
class CaseRun:
    case: rubric.Case
    outputs: rubric.Outputs
    results: dict[str, rubric.Result]


async def run_case(
    llm: LLM, validator: SchemaValidator, case: rubric.Case, runner: TestRunner | None = None
) -> CaseRun:
    """The PRD, decomposition, code and review steps for one requirement text, as the pipeline's jobs ask them;
    the generated tests run in `runner` (not run without one)."""
    prd = await ask(
        llm,
        "prd",
        {
            "title": case.title,
            "content": case.text,
            "priority": "HIGH",
            "project_name": "Evaluation",
            "tech_stack": ", ".join(filter(None, [case.language, case.framework])),
        },
        validator,
    )
    plan = await ask(
        llm,
        "decompose",
        {
            "title": case.title,
            "content": case.text,
            "strategy": "ROLE_BASED",
            "target_roles": [r.value for r in DEFAULT_ROLES],
            "prd_sections": prd.data["sections"],
            "priority": "HIGH",
        },
        validator,
    )
    tasks = plan.data["tasks"]
    task = _backend_task(tasks)
    code = await ask(
        llm,
        "code",
        {
            "task_name": task["name"],
            "task_description": task.get("description") or "",
            "task_type": task["task_type"],
            "language": case.language,
            "framework": case.framework,
            "include_tests": True,
            "include_docs": False,
            "coding_standards": "",
            "requirement": f"{case.title}\n\n{case.text}",
        },
        validator,
    )
    files = code.data["files"]
    await ask(llm, "review", {"files": files, "focus": files[0]["path"]}, validator)
    passed, output = await run_generated_tests(files, runner) if runner else (None, "")
    outputs = rubric.Outputs(prd=prd.data, tasks=tasks, files=files, tests_passed=passed, test_output=output)
    return CaseRun(case, outputs, rubric.score(case, outputs))


def summarise(runs: Sequence[CaseRun]) -> dict[str, float]:
    """Per check: the share of all its items (constraints, files, cases) that passed, over every case."""
    totals: dict[str, float] = {}
    for name in rubric.CHECKS:
        passed = sum(r.results[name].passed for r in runs)
        total = sum(r.results[name].total for r in runs)
        totals[name] = round(passed / total, 3) if total else 1.0
    return totals


def table(provider: str, runs: Sequence[CaseRun]) -> str:
    """A plain-text table: one row per case, one column per check (passed/total), then the overall scores."""
    names = list(rubric.CHECKS)
    width = max(len(r.case.id) for r in runs) + 2
    head = f"{'case (' + provider + ')':<{width}}" + "".join(f"{n:>{len(n) + 2}}" for n in names)
    lines = [head, "-" * len(head)]
    for r in runs:
        cells = "".join(f"{f'{r.results[n].passed}/{r.results[n].total}':>{len(n) + 2}}" for n in names)
        lines.append(f"{r.case.id:<{width}}" + cells)
    overall = summarise(runs)
    lines.append(f"{'score':<{width}}" + "".join(f"{overall[n]:>{len(n) + 2}.0%}" for n in names))
    return "\n".join(lines)


def misses(runs: Sequence[CaseRun]) -> list[str]:
    return [
        f"{r.case.id}: {name}: {', '.join(result.misses)}"
        for r in runs
        for name, result in r.results.items()
        if result.misses
    ]


def regressions(provider: str, scores: dict[str, float], floors: dict[str, dict[str, float]]) -> list[str]:
    """Each check whose score fell below the recorded one for `provider`."""
    return [
        f"{provider}: {name} scored {scores.get(name, 0.0):.3f}, below the recorded {floor:.3f}"
        for name, floor in floors.get(provider, {}).items()
        if scores.get(name, 0.0) < floor
    ]


async def evaluate(
    providers: dict[str, LLM],
    validator: SchemaValidator,
    cases: Sequence[rubric.Case],
    runner: TestRunner,
    *,
    record: bool = False,
) -> int:
    """Print a table per provider and every regression below the recorded scores; the number of regressions.
    `record` writes this run's scores as the new floors instead."""
    floors = recorded_scores()
    failures: list[str] = []
    for name, llm in providers.items():
        runs = [await run_case(llm, validator, case, runner) for case in cases]
        print(table(name, runs), end="\n\n")
        for line in misses(runs):
            print(f"  missed: {line}")
        print()
        if record:
            floors[name] = summarise(runs)
            continue
        failures += regressions(name, summarise(runs), floors)
    if record:
        await asyncio.to_thread(Path(str(RECORDED)).write_text, json.dumps(floors, indent=2, sort_keys=True) + "\n")
        print(f"recorded the scores in {RECORDED}")
    for line in failures:
        print(f"REGRESSION {line}", file=sys.stderr)
    return len(failures)


def main(settings: Any, only: str | None, record: bool = False) -> int:
    """`rdflow eval`: the offline provider always, the Anthropic one too when an API key is configured."""
    from integrations.json_schema import JsonSchemaValidator
    from integrations.llm_anthropic import AnthropicPool
    from integrations.llm_offline import OfflineLLM
    from server.container import sandbox_runner

    providers: dict[str, LLM] = {"offline": OfflineLLM()}
    pool = AnthropicPool(timeout_s=settings.anthropic_timeout_s, max_retries=settings.anthropic_max_retries)
    if settings.anthropic_api_key:
        providers["anthropic"] = pool.llm(
            settings.anthropic_api_key,
            settings.anthropic_model,
            settings.anthropic_base_url,
            max_tokens=settings.anthropic_max_tokens,
        )
    if only:
        if only not in providers:
            raise SystemExit(f"provider {only!r} is not available; available: {', '.join(providers)}")
        providers = {only: providers[only]}

    async def run() -> int:
        try:
            return await evaluate(
                providers, JsonSchemaValidator(), load_cases(), sandbox_runner(settings), record=record
            )
        except DomainError as exc:  # the runner cannot work here: a configuration problem, not a score
            raise SystemExit(f"rdflow eval: {exc}") from exc
        finally:
            await pool.aclose()

    return asyncio.run(run())
