"""The rubric the AI pipeline's output is scored on: each check is a pure function of one case and the outputs."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Top-level names a generated module must not take: importing the project's own module under one of them would
# shadow the real library (a package named `requests/` breaks `import requests` for everything beside it).
WELL_KNOWN_PACKAGES = frozenset(
    {
        "aiohttp",
        "alembic",
        "attr",
        "attrs",
        "boto3",
        "celery",
        "click",
        "django",
        "fastapi",
        "flask",
        "httpx",
        "jinja2",
        "jwt",
        "numpy",
        "pandas",
        "pydantic",
        "pytest",
        "redis",
        "requests",
        "six",
        "sqlalchemy",
        "starlette",
        "tests",
        "typing_extensions",
        "urllib3",
        "uvicorn",
        "yaml",
    }
)
SHADOWED = frozenset(sys.stdlib_module_names) | WELL_KNOWN_PACKAGES


@dataclass(frozen=True)
class Constraint:
    """An explicit constraint of a requirement text: present in a text when every group has one alternative in it."""

    id: str
    groups: tuple[tuple[str, ...], ...]

    def found_in(self, text: str) -> bool:
        lowered = text.lower()
        return all(any(_contains(lowered, alt.lower()) for alt in group) for group in self.groups)


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    text: str
    constraints: tuple[Constraint, ...]
    forbidden: tuple[str, ...] = ()
    language: str = "python"
    framework: str = ""

    @staticmethod
    def from_mapping(raw: Mapping[str, Any]) -> Case:
        return Case(
            id=str(raw["id"]),
            title=str(raw["title"]),
            text=str(raw["text"]),
            constraints=tuple(
                Constraint(str(c["id"]), tuple(tuple(str(a) for a in g) for g in c["groups"]))
                for c in raw.get("constraints", ())
            ),
            forbidden=tuple(str(f) for f in raw.get("forbidden", ())),
            language=str(raw.get("language", "python")),
            framework=str(raw.get("framework", "")),
        )


@dataclass(frozen=True)
class Outputs:
    """What the pipeline produced for one case; `tests_passed` is None when the generated tests were not run."""

    prd: Mapping[str, Any]
    tasks: Sequence[Mapping[str, Any]]
    files: Sequence[Mapping[str, Any]]
    tests_passed: bool | None = None
    test_output: str = ""


@dataclass(frozen=True)
class Result:
    """One check on one case: `passed` of `total` items, and what failed (for the report)."""

    passed: int
    total: int
    misses: tuple[str, ...] = field(default_factory=tuple)

    @property
    def score(self) -> float:
        return self.passed / self.total if self.total else 1.0


def _contains(text: str, phrase: str) -> bool:
    # Word boundaries where the phrase starts or ends with a word character: "5 per hour" is not in "15 per hour".
    start = r"(?<![\w])" if phrase[:1].isalnum() else ""
    end = r"(?![\w])" if phrase[-1:].isalnum() else ""
    return re.search(start + re.escape(phrase) + end, text) is not None


def _per_constraint(case: Case, text: str) -> Result:
    misses = tuple(c.id for c in case.constraints if not c.found_in(text))
    return Result(len(case.constraints) - len(misses), len(case.constraints), misses)


def _section(prd: Mapping[str, Any], section_id: str) -> Mapping[str, Any]:
    sections: Sequence[Mapping[str, Any]] = prd.get("sections") or ()
    return next((s for s in sections if s.get("section_id") == section_id), {})


def _task_text(task: Mapping[str, Any]) -> str:
    return f"{task.get('name', '')}\n{task.get('description') or ''}"


def constraints_in_prd(case: Case, out: Outputs) -> Result:
    """Every explicit constraint is carried into the PRD's acceptance criteria."""
    return _per_constraint(case, str(_section(out.prd, "acceptance_criteria").get("content", "")))


def constraints_in_tasks(case: Case, out: Outputs) -> Result:
    """Every explicit constraint is covered by at least one task."""
    misses = tuple(c.id for c in case.constraints if not any(c.found_in(_task_text(t)) for t in out.tasks))
    return Result(len(case.constraints) - len(misses), len(case.constraints), misses)


def no_invented_features(case: Case, out: Outputs) -> Result:
    """No PRD feature and no task is one of the features a careless reading invents."""
    names = [str(f.get("name", "")) for s in out.prd.get("sections") or () for f in s.get("features") or ()]
    names += [str(t.get("name", "")) for t in out.tasks]
    invented = tuple(sorted({bad for bad in case.forbidden for name in names if _contains(name.lower(), bad.lower())}))
    return Result(0 if invented else 1, 1, invented)


def _python_sources(files: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    return [(str(f["path"]), str(f.get("content", ""))) for f in files if str(f.get("path", "")).endswith(".py")]


def _imported_roots(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def framework_used(case: Case, out: Outputs) -> Result:
    """The code uses the framework the requirement asked for (nothing to check when none was asked for)."""
    if not case.framework:
        return Result(1, 1)
    wanted = case.framework.lower()
    used = set().union(*(_imported_roots(src) for _, src in _python_sources(out.files)))
    return Result(1, 1) if wanted in used else Result(0, 1, (f"{case.framework} is never imported",))


def no_shadowing_names(case: Case, out: Outputs) -> Result:
    """No generated module or package is named after a standard-library or well-known PyPI module."""
    tops = {str(f["path"]).strip("/").split("/")[0].removesuffix(".py") for f in out.files if "path" in f}
    tops |= {p.rsplit("/", 1)[-1].removesuffix(".py") for p, _ in _python_sources(out.files) if "/" in p}
    bad = tuple(sorted(t for t in tops if t in SHADOWED and t != "tests"))
    return Result(0 if bad else 1, 1, bad)


def tests_pass(case: Case, out: Outputs) -> Result:
    """The generated tests run and pass."""
    if out.tests_passed is None:
        return Result(0, 1, ("the generated tests were not run",))
    return Result(1, 1) if out.tests_passed else Result(0, 1, (out.test_output[-300:],))


def tests_cover_constraints(case: Case, out: Outputs) -> Result:
    """Each explicit constraint is exercised by a generated test (its values appear in one test function)."""
    bodies: list[str] = []
    for path, source in _python_sources(out.files):
        if not path.rsplit("/", 1)[-1].startswith("test_"):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        lines = source.splitlines()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                body = "\n".join(lines[node.lineno - 1 : node.end_lineno])
                bodies.append(body.replace("_", " "))
    misses = tuple(c.id for c in case.constraints if not any(_covers(c, body) for body in bodies))
    return Result(len(case.constraints) - len(misses), len(case.constraints), misses)


def _covers(constraint: Constraint, body: str) -> bool:
    # A test covers a constraint when every number of the constraint's first alternatives appears in it, with one
    # word of the constraint ("minutes", "once", "overlap"), as a value or in the test's name.
    words: list[str] = []
    numbers: list[str] = []
    for group in constraint.groups:
        first = group[0].lower()
        numbers += [n.replace(",", "") for n in re.findall(r"\d[\d,]*", first)]
        words += [w for w in re.findall(r"[a-z]{3,}", " ".join(group).lower()) if w not in {"per", "the", "and"}]
    text = body.lower()
    has_numbers = all(re.search(rf"(?<![\d.]){n}(?![\d])", text) for n in numbers)
    return has_numbers and (not words or any(w in text for w in words))


Check = Callable[[Case, Outputs], Result]
CHECKS: dict[str, Check] = {
    "constraints in PRD": constraints_in_prd,
    "constraints in tasks": constraints_in_tasks,
    "no invented features": no_invented_features,
    "framework used": framework_used,
    "no shadowing names": no_shadowing_names,
    "tests pass": tests_pass,
    "tests cover constraints": tests_cover_constraints,
}


def score(case: Case, out: Outputs) -> dict[str, Result]:
    return {name: check(case, out) for name, check in CHECKS.items()}
