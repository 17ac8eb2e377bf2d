"""Generated files beyond Python and JavaScript: typed skeletons, DevOps files, and design or docs pages."""

from __future__ import annotations

from collections.abc import Callable

from integrations.offline.codespec import CodeSpec, FieldSpec
from integrations.offline.words import plural

NOT_IMPLEMENTED = "offline provider: only Python and JavaScript are generated in full"
TS_TYPES = {
    "text": "string",
    "note": "string",
    "money": "number",
    "count": "number",
    "date": "string",
    "email": "string",
    "flag": "boolean",
}
GO_TYPES = {
    "text": "string",
    "note": "string",
    "money": "float64",
    "count": "int",
    "date": "string",
    "email": "string",
    "flag": "bool",
}
JAVA_TYPES = {
    "text": "String",
    "note": "String",
    "money": "java.math.BigDecimal",
    "count": "int",
    "date": "java.time.LocalDate",
    "email": "String",
    "flag": "boolean",
}
EXTENSIONS = {"typescript": "ts", "go": "go", "java": "java"}


def _operations(spec: CodeSpec) -> list[str]:
    return (
        ["create", "get", "search", "update", "delete"]
        + [a for a, _, _ in spec.actions]
        + (["exportCsv"] if spec.export else [])
    )


def _members(
    spec: CodeSpec, field: Callable[[FieldSpec], str], status: str, stub: Callable[[str], str]
) -> tuple[str, str, str]:
    """A skeleton's field declarations, its status field (if the entity has status actions), one stub an operation."""
    return (
        "".join(field(f) for f in spec.fields),
        status if spec.actions else "",
        "".join(stub(op) for op in _operations(spec)),
    )


def typescript(spec: CodeSpec) -> str:
    fields, status, methods = _members(
        spec,
        lambda f: f"  {f.name}{'' if f.required else '?'}: {TS_TYPES[f.kind]};\n",
        "  status: string;\n",
        lambda op: f"  {op}(..._args: unknown[]): never {{\n    throw new Error('{op}: {NOT_IMPLEMENTED}');\n  }}\n",
    )
    return (
        f"// {spec.pascal} skeleton: the record type and the service's operations.\n\n"
        f"export interface {spec.pascal} {{\n  id: number;\n{fields}{status}}}\n\n"
        f"export class {spec.pascal}Service {{\n{methods}}}\n"
    )


def go(spec: CodeSpec) -> str:
    fields, status, funcs = _members(
        spec,
        lambda f: f'\t{_go_name(f.name)} {GO_TYPES[f.kind]} `json:"{f.name}"`\n',
        '\tStatus string `json:"status"`\n',
        lambda op: (
            f"\n// {_go_name(op)} is not generated yet.\nfunc (s *{spec.pascal}Service) {_go_name(op)}() error "
            f'{{\n\treturn errors.New("{op}: {NOT_IMPLEMENTED}")\n}}\n'
        ),
    )
    return (
        f"// Package {spec.package} is a skeleton of the {spec.entity} record and its service.\n"
        f'package {spec.package}\n\nimport "errors"\n\n'
        f"// {spec.pascal} is one {spec.entity}.\n"
        f'type {spec.pascal} struct {{\n\tID int `json:"id"`\n{fields}{status}}}\n\n'
        f"// {spec.pascal}Service holds the {spec.entity} operations.\n"
        f"type {spec.pascal}Service struct{{}}\n{funcs}"
    )


def java(spec: CodeSpec) -> str:
    fields, status, methods = _members(
        spec,
        lambda f: f"        private {JAVA_TYPES[f.kind]} {_camel(f.name)};\n",
        "        private String status;\n",
        lambda op: (
            f'\n    public void {op}() {{\n        throw new UnsupportedOperationException("{op}: '
            f'{NOT_IMPLEMENTED}");\n    }}\n'
        ),
    )
    return (
        f"/** Skeleton of the {spec.entity} record and its service operations. */\n"
        f"public class {spec.pascal}Service {{\n\n    /** One {spec.entity}. */\n"
        f"    public static class {spec.pascal} {{\n        private long id;\n{fields}{status}    }}\n{methods}}}\n"
    )


def skeleton(spec: CodeSpec, language: str) -> tuple[list[dict[str, str]], str]:
    """Files and a note for a language without a full generator."""
    name = {
        "typescript": f"src/{spec.camel}Service.ts",
        "go": f"{spec.package}/{spec.file_stem}.go",
        "java": f"src/main/java/{spec.pascal}Service.java",
    }.get(language)
    body = {"typescript": typescript, "go": go, "java": java}.get(language)
    if name and body:
        return (
            [{"path": name, "language": language, "content": body(spec)}],
            (
                f"Skeleton only for {language}: the {spec.entity} type and its operations, whose bodies raise "
                f"'not implemented'; full code and tests are generated for Python and JavaScript."
            ),
        )
    return (
        [{"path": f"docs/{spec.file_stem}-spec.md", "language": "markdown", "content": spec_markdown(spec)}],
        (
            f"No generator for {language or 'an unnamed language'}: wrote the {spec.entity} specification "
            f"(fields, operations, statuses) to implement from."
        ),
    )


def _go_name(name: str) -> str:
    return "".join(part.upper() if part == "id" else part.capitalize() for part in name.replace("-", "_").split("_"))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def spec_markdown(spec: CodeSpec) -> str:
    fields = "\n".join(f"| `{f.name}` | {f.kind} | {'yes' if f.required else 'no'} |" for f in spec.fields)
    actions = "\n".join(f"- `{a}`: {', '.join(s)} -> {t}" for a, t, s in spec.actions) or "- none"
    return (
        f"# {plural(spec.entity).capitalize()}: specification\n\nFor: {spec.requirement_title}\n\n"
        f"| field | kind | required |\n|---|---|---|\n{fields}\n\n"
        f"Operations: {', '.join(_operations(spec))}. Every validation error names the field.\n\n"
        f"Status actions:\n\n{actions}\n"
    )


def devops_files(spec: CodeSpec, language: str) -> tuple[list[dict[str, str]], str]:
    app = spec.package.replace("_", "-")
    node = language in ("javascript", "js", "node", "typescript", "ts")
    dockerfile = (
        'FROM node:20-alpine\nWORKDIR /app\nCOPY . .\nUSER node\nCMD ["node", "--test"]\n'
        if node
        else "FROM python:3.11-slim\nWORKDIR /app\nRUN pip install --no-cache-dir starlette uvicorn\n"
        f'COPY . .\nUSER nobody\nEXPOSE 8000\nCMD ["uvicorn", "{spec.package}.routes:create_app", '
        '"--factory", "--host", "0.0.0.0", "--port", "8000"]\n'
    )
    setup = (
        "      - uses: actions/setup-node@v4\n        with:\n          node-version: 20\n      - run: node --test\n"
        if node
        else '      - uses: actions/setup-python@v5\n        with:\n          python-version: "3.11"\n'
        "      - run: pip install pytest starlette httpx\n      - run: python -m pytest -q\n"
    )
    ci = (
        f"name: ci\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - uses: actions/checkout@v4\n{setup}"
    )
    manifest = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  labels: {{app: {app}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {app}}}
  template:
    metadata:
      labels: {{app: {app}}}
    spec:
      containers:
        - name: {app}
          image: {app}:latest
          ports: [{{containerPort: 8000}}]
          readinessProbe:
            httpGet: {{path: {spec.url}, port: 8000}}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
---
apiVersion: v1
kind: Service
metadata:
  name: {app}
spec:
  selector: {{app: {app}}}
  ports: [{{port: 80, targetPort: 8000}}]
"""
    files = [
        {"path": "Dockerfile", "language": "dockerfile", "content": dockerfile},
        {"path": ".github/workflows/ci.yml", "language": "yaml", "content": ci},
        {"path": f"deploy/k8s/{app}.yaml", "language": "yaml", "content": manifest},
    ]
    return files, (
        f"Container image, CI workflow and Kubernetes Deployment/Service for the {spec.package} service "
        "(two replicas, readiness probe on the list endpoint). Not executed offline."
    )


def design_or_docs(spec: CodeSpec, task_type: str) -> tuple[list[dict[str, str]], str]:
    if task_type == "DESIGN":
        form = "\n".join(
            f"  - {f.name.replace('_', ' ')}{' (required)' if f.required else ''}: {f.kind} input" for f in spec.fields
        )
        actions = "".join(
            f'  - button "{a.capitalize()}" shown when the status is {" or ".join(s)}\n' for a, _, s in spec.actions
        )
        content = (
            f"# {plural(spec.entity).capitalize()}: screens\n\n"
            f'1. List: search box, one row per {spec.entity}, empty state "No {plural(spec.entity)} yet".\n'
            f"2. Detail: every field{', the status and its actions' if spec.actions else ''}.\n"
            f"{actions}3. Form (create and edit), errors shown beside the field they name:\n{form}\n\n"
            "States for every screen: loading, empty, error with retry.\n"
        )
        return [
            {"path": f"design/{spec.file_stem}-screens.md", "language": "markdown", "content": content}
        ], "Screen specification (list, detail, form, states)."
    return [
        {"path": f"docs/{spec.file_stem}.md", "language": "markdown", "content": spec_markdown(spec)}
    ], f"Reference page for {plural(spec.entity)}."
