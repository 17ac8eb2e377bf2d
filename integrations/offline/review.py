"""The offline code review: static checks per file, a missing-tests check, and a decision from the worst finding."""

from __future__ import annotations

import ast
import re
from typing import Any

from integrations.offline.review_python import check_python, finding, is_test_file, is_test_module, test_functions

MAX_FILE_LINES = 400
SEVERITY_RANK = {"INFO": 0, "MINOR": 1, "MAJOR": 2, "CRITICAL": 3}
DECISION = {3: "REJECTED", 2: "CHANGES_REQUESTED"}
SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b(pass(word|wd)?|secret|api[_-]?key|access[_-]?key|private[_-]?key|token)\b"
    r"""["']?\s*[:=]\s*["']([^"'\s]{8,})["']"""
)
SECRET_SHAPES = re.compile(
    r"AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|xox[abpr]-[A-Za-z0-9-]{10,}|-----BEGIN (?:RSA |EC |OPENSSH )?PRIVATE KEY-----"
)
PLACEHOLDER = re.compile(r"(?i)^(x+|\*+|changeme|change-me|placeholder|example|dummy|<[^>]*>|\$\{[^}]*\}|\{\{.*\}\})$")
SCRIPT_LANGUAGES = ("javascript", "typescript", "js", "ts")


def is_python(f: dict[str, Any]) -> bool:
    return str(f.get("language") or "").lower() == "python" or str(f.get("path", "")).endswith(".py")


def _secret_lines(path: str, content: str, python: bool) -> list[dict[str, Any]]:
    found = []
    for number, line in enumerate(content.splitlines(), 1):
        m = SECRET_ASSIGNMENT.search(line)
        assigned = m is not None and not python and not PLACEHOLDER.match(m.group(3))
        if assigned or SECRET_SHAPES.search(line):
            found.append(
                finding(
                    "CRITICAL",
                    path,
                    number,
                    "hardcoded-secret",
                    "a credential appears to be written into the file",
                    "load it from the environment or a secret store, and rotate the exposed value",
                )
            )
    return found


def _generic(path: str, language: str, content: str) -> list[dict[str, Any]]:
    found = []
    lines = content.splitlines()
    if len(lines) > MAX_FILE_LINES:
        found.append(
            finding(
                "MINOR",
                path,
                None,
                "large-file",
                f"{len(lines)} lines (limit {MAX_FILE_LINES})",
                "split the file by responsibility",
            )
        )
    for number, line in enumerate(lines, 1):
        m = re.search(r"\b(TODO|FIXME|XXX|HACK)\b", line)
        if m:
            found.append(
                finding(
                    "INFO",
                    path,
                    number,
                    "todo-comment",
                    f"{m.group(1)} left in the file",
                    "do it, or track it in a task and link it",
                )
            )
        if language in SCRIPT_LANGUAGES and re.search(r"(?<![\w.])eval\s*\(|new Function\s*\(", line):
            found.append(
                finding(
                    "CRITICAL",
                    path,
                    number,
                    "eval-exec",
                    "dynamic code evaluation",
                    "parse the data instead (JSON.parse, a lookup table)",
                )
            )
    return found


def _missing_tests(files: list[dict[str, Any]], focus: str | None) -> list[dict[str, Any]]:
    modules: list[str] = []
    tests: list[str] = []
    empty_tests: list[str] = []
    for f in files:
        if not is_python(f):
            continue
        try:
            tree = ast.parse(str(f.get("content") or ""))
        except SyntaxError:
            continue
        if is_test_module(f["path"]):
            (tests if test_functions(tree) else empty_tests).append(f["path"])
        elif is_test_file(f["path"]):
            continue
        elif any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body):
            modules.append(f["path"])
    found = [
        finding(
            "MAJOR",
            path,
            None,
            "missing-tests",
            "the test file defines no test functions",
            "add `test_...` functions that exercise the code",
        )
        for path in empty_tests
    ]
    if modules and not tests:
        target = focus if focus is not None and focus in modules else modules[0]
        found.append(
            finding(
                "MAJOR",
                target,
                None,
                "missing-tests",
                f"no tests cover {', '.join(modules)}",
                "add a tests/test_<module>.py with test_ functions for the public behaviour",
            )
        )
    return found


def review_files(files: list[dict[str, Any]], focus: str | None = None) -> dict[str, Any]:
    findings: list[dict[str, Any]] = []
    for f in files:
        path, content = str(f.get("path") or "?"), str(f.get("content") or "")
        if is_python(f):
            findings += check_python(path, content) + _secret_lines(path, content, python=True)
        else:
            findings += _generic(path, str(f.get("language") or "").lower(), content)
            findings += _secret_lines(path, content, python=False)
    findings += _missing_tests(files, focus)
    order = {str(f.get("path")): i for i, f in enumerate(files)}
    unique = {(x["file"], x["line"], x["rule"]): x for x in findings}  # a line can match two secret checks
    findings = sorted(unique.values(), key=lambda x: (order.get(x["file"], len(order)), x["line"] or 0, x["rule"]))
    worst = max((SEVERITY_RANK[x["severity"]] for x in findings), default=0)
    decision = DECISION.get(worst, "APPROVED")
    counts = {s: sum(1 for x in findings if x["severity"] == s) for s in ("CRITICAL", "MAJOR", "MINOR", "INFO")}
    summary = (
        f"Reviewed {len(files)} file{'s' if len(files) != 1 else ''} "
        f"({sum(1 for f in files if is_python(f))} Python): "
        + ", ".join(f"{n} {s.lower()}" for s, n in counts.items())
        + f". Recommended: {decision}."
    )
    return {"findings": findings, "recommended_decision": decision, "summary": summary}
