"""The offline code step: picks a generator by task type and language and returns files plus notes."""

from __future__ import annotations

from typing import Any

from integrations.offline import codegen_js as js
from integrations.offline import codegen_python as py
from integrations.offline import codegen_python_tests as py_tests
from integrations.offline import codegen_rules as rules
from integrations.offline.codegen_other import design_or_docs, devops_files, skeleton
from integrations.offline.codespec import CodeSpec, build_spec


def _file(path: str, language: str, content: str) -> dict[str, str]:
    return {"path": path, "language": language, "content": content}


def python_files(spec: CodeSpec) -> tuple[list[dict[str, str]], list[str]]:
    routed = spec.framework in py.ROUTED_FRAMEWORKS
    pkg = spec.package
    files = [
        _file(
            f"{pkg}/__init__.py",
            "python",
            f'"""{spec.entity.capitalize()} management: {pkg}.service holds the use cases."""\n',
        ),
        _file(f"{pkg}/model.py", "python", py.model_py(spec)),
        _file(f"{pkg}/repository.py", "python", py.repository_py(spec)),
        _file(f"{pkg}/service.py", "python", py.service_py(spec)),
    ]
    notes = [f"Python package `{pkg}` for {spec.entity} records: validation, in-memory repository, service."]
    fastapi = spec.framework == "fastapi"
    if routed:
        files.append(_file(f"{pkg}/routes.py", "python", py.fastapi_routes_py(spec) if fastapi else py.routes_py(spec)))
        notes.append(f"HTTP routes use {'FastAPI' if fastapi else 'Starlette'}.")
    else:
        notes.append(f"No {spec.framework} views were generated; the service is framework-free, call it from them.")
    if spec.rules:
        files.append(_file(f"{pkg}/rules.py", "python", rules.rules_py(list(spec.rules))))
        notes.append(
            f"`{pkg}.rules` enforces the requirement's {len(spec.rules)} explicit rules (R1, R2, ... as in the PRD)."
        )
    if spec.include_tests:
        files.append(_file("tests/__init__.py", "python", '"""Tests of the generated package."""\n'))
        if spec.rules:
            files.append(
                _file(f"tests/test_{spec.file_stem}_rules.py", "python", rules.rules_tests_py(list(spec.rules), pkg))
            )
        files.append(_file(f"tests/test_{spec.file_stem}_service.py", "python", py_tests.service_tests_py(spec)))
        if routed:
            files.append(_file(f"tests/test_{spec.file_stem}_routes.py", "python", py_tests.routes_tests_py(spec)))
        notes.append(
            "Run the tests with `python -m pytest` (needs pytest"
            + (f", {'fastapi' if fastapi else 'starlette'} and httpx)." if routed else ").")
        )
    else:
        notes.append("Tests were not requested.")
    if spec.include_docs:
        files.append(_file("README.md", "markdown", py_tests.readme_md(spec, routed)))
    return files, notes


def javascript_files(spec: CodeSpec) -> tuple[list[dict[str, str]], list[str]]:
    files = [
        _file(f"src/{spec.camel}Service.mjs", "javascript", js.service_mjs(spec)),
        _file("package.json", "json", js.package_json(spec)),
    ]
    notes = [f"ES module `src/{spec.camel}Service.mjs` for {spec.entity} records (no dependencies)."]
    if spec.include_tests:
        files.append(_file(f"test/{spec.camel}Service.test.mjs", "javascript", js.service_test_mjs(spec)))
        notes.append("Run the tests with `node --test` (Node 20+).")
    else:
        notes.append("Tests were not requested.")
    if spec.include_docs:
        files.append(_file("README.md", "markdown", js.readme_md(spec)))
    return files, notes


LANGUAGE_ALIASES = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
    "ts": "typescript",
    "golang": "go",
}


def build_code(ctx: dict[str, Any], fallback_text: str) -> dict[str, Any]:
    spec = build_spec(ctx, fallback_text)
    language = str(ctx.get("language") or "python").strip().lower()
    language = LANGUAGE_ALIASES.get(language, language)
    task_type = str(ctx.get("task_type") or "").upper()
    if task_type == "DEVOPS":
        files, note = devops_files(spec, language)
        notes = [note]
    elif task_type in ("DESIGN", "DOCS"):
        files, note = design_or_docs(spec, task_type)
        notes = [note]
    elif language == "python":
        files, notes = python_files(spec)
    elif language == "javascript":
        files, notes = javascript_files(spec)
    else:
        files, note = skeleton(spec, language)
        notes = [note]
    if spec.skipped:
        notes.append("Not generated: " + "; ".join(spec.skipped) + ".")
    return {"files": files, "notes": " ".join(notes)}
