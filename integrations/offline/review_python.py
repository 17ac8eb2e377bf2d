"""Static checks of one Python file with `ast` and `tokenize`: each returns findings with line, rule and advice."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from typing import Any

MAX_FUNCTION_LINES = 50
SECRET_NAME = re.compile(r"(?i)(pass(word|wd)?|secret|api_?key|access_?key|private_?key|token|credential)s?$")
PLACEHOLDER = re.compile(
    r"(?i)^(|x+|\*+|changeme|change-me|placeholder|example|dummy|test|secret|password|"
    r"<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\})$"
)
MIN_SECRET_LENGTH = 8


def finding(severity: str, path: str, line: int | None, rule: str, message: str, suggestion: str) -> dict[str, Any]:
    return {
        "severity": severity,
        "file": path,
        "line": line,
        "rule": rule,
        "message": message,
        "suggestion": suggestion,
    }


def is_test_module(path: str) -> bool:
    """A file pytest collects tests from."""
    name = path.rsplit("/", 1)[-1]
    return name.startswith("test_") or name.endswith("_test.py")


def is_test_file(path: str) -> bool:
    """A test module or test support code (conftest, anything under tests/)."""
    return is_test_module(path) or path.rsplit("/", 1)[-1] == "conftest.py" or "/tests/" in f"/{path}"


def test_functions(tree: ast.Module) -> list[str]:
    return [
        n.name
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test")
    ]


def _bare_excepts(path: str, tree: ast.Module) -> Iterator[dict[str, Any]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is None:
            yield finding(
                "MAJOR",
                path,
                node.lineno,
                "bare-except",
                "bare `except:` also catches KeyboardInterrupt and SystemExit and hides bugs",
                "catch the specific exceptions you expect, e.g. `except ValueError:`",
            )


def _eval_exec(path: str, tree: ast.Module) -> Iterator[dict[str, Any]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec"):
            yield finding(
                "CRITICAL",
                path,
                node.lineno,
                "eval-exec",
                f"`{node.func.id}()` runs arbitrary code; with any outside input it is code injection",
                "parse the data instead (json.loads, ast.literal_eval, a lookup table of functions)",
            )


def _long_functions(path: str, tree: ast.Module) -> Iterator[dict[str, Any]]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                yield finding(
                    "MINOR",
                    path,
                    node.lineno,
                    "long-function",
                    f"function `{node.name}` is {length} lines long (limit {MAX_FUNCTION_LINES})",
                    "split it into smaller functions with one job each",
                )


def _exported(tree: ast.Module) -> set[str]:
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            and isinstance(node.value, (ast.List, ast.Tuple))
        ):
            return {e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


def _unused_imports(path: str, tree: ast.Module) -> Iterator[dict[str, Any]]:
    if path.endswith("__init__.py"):
        return  # imports there are the package's public names
    imported: list[tuple[str, str, int]] = []  # (bound name, shown name, line)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [(a.asname or a.name.split(".")[0], a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            imported += [(a.asname or a.name, a.name, node.lineno) for a in node.names if a.name != "*"]
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | _exported(tree) | _string_annotation_names(tree)
    for name, shown, line in imported:
        if name not in used:
            yield finding(
                "MINOR", path, line, "unused-import", f"`{shown}` is imported but never used", "remove the import"
            )


def _string_annotation_names(tree: ast.Module) -> set[str]:
    """Names used inside quoted annotations such as `def f() -> "Invoice":`."""
    annotations: list[ast.AST | None] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotations.append(node.returns)
        elif isinstance(node, (ast.arg, ast.AnnAssign)):
            annotations.append(node.annotation)
    names: set[str] = set()
    for annotation in annotations:
        for node in ast.walk(annotation) if annotation is not None else ():
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                try:
                    names |= {n.id for n in ast.walk(ast.parse(node.value, mode="eval")) if isinstance(n, ast.Name)}
                except SyntaxError:
                    continue
    return names


def _mutable_defaults(path: str, tree: ast.Module) -> Iterator[dict[str, Any]]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
                literal = isinstance(default, (ast.List, ast.Dict, ast.Set))
                call = (
                    isinstance(default, ast.Call)
                    and isinstance(default.func, ast.Name)
                    and default.func.id in ("list", "dict", "set")
                )
                if literal or call:
                    name = getattr(node, "name", "lambda")
                    yield finding(
                        "MAJOR",
                        path,
                        default.lineno,
                        "mutable-default",
                        f"`{name}` has a mutable default argument, shared by every call",
                        "default to None and create the list/dict inside the function",
                    )


def _main_guard_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test) and "__main__" in ast.unparse(node.test):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _prints(path: str, tree: ast.Module) -> Iterator[dict[str, Any]]:
    if is_test_file(path) or path.endswith("__main__.py"):
        return
    script_lines = _main_guard_lines(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "print"
            and node.lineno not in script_lines
        ):
            yield finding(
                "MINOR",
                path,
                node.lineno,
                "print-call",
                "`print` in library code writes to stdout",
                "use the logging module (logging.getLogger(__name__))",
            )


def _secret_value(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and len(node.value) >= MIN_SECRET_LENGTH
        and not PLACEHOLDER.match(node.value.strip())
    )


def _secrets(path: str, tree: ast.Module) -> Iterator[dict[str, Any]]:
    for node in ast.walk(tree):
        pairs: list[tuple[str, ast.expr]] = []
        if isinstance(node, ast.Assign):
            pairs = [(_target_name(t), node.value) for t in node.targets]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            pairs = [(_target_name(node.target), node.value)]
        elif isinstance(node, ast.Call):
            pairs = [(k.arg or "", k.value) for k in node.keywords]
        elif isinstance(node, ast.Dict):
            pairs = [
                (k.value, v)
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            ]
        for name, value in pairs:
            if SECRET_NAME.search(name) and _secret_value(value):
                yield finding(
                    "CRITICAL",
                    path,
                    value.lineno,
                    "hardcoded-secret",
                    f"`{name}` is set to a literal secret in the source",
                    "read it from the environment or a secret store, and rotate the exposed value",
                )


def _target_name(target: ast.AST) -> str:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return ""


def _wildcard_imports(path: str, tree: ast.Module) -> Iterator[dict[str, Any]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            yield finding(
                "MINOR",
                path,
                node.lineno,
                "wildcard-import",
                f"`from {node.module} import *` hides where names come from",
                "import the names you use explicitly",
            )


def todo_comments(path: str, content: str) -> Iterator[dict[str, Any]]:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(content).readline))
    except (tokenize.TokenError, SyntaxError):
        return
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            m = re.search(r"\b(TODO|FIXME|XXX|HACK)\b", tok.string)
            if m:
                yield finding(
                    "INFO",
                    path,
                    tok.start[0],
                    "todo-comment",
                    f"{m.group(1)} left in the code: {tok.string.lstrip('# ').strip()[:120]}",
                    "do it, or track it in a task and link it",
                )


CHECKS = (
    _bare_excepts,
    _eval_exec,
    _long_functions,
    _unused_imports,
    _mutable_defaults,
    _prints,
    _secrets,
    _wildcard_imports,
)


def check_python(path: str, content: str) -> list[dict[str, Any]]:
    try:
        tree = ast.parse(content, filename=path)
    except SyntaxError as exc:
        return [
            finding(
                "CRITICAL",
                path,
                exc.lineno or 1,
                "syntax-error",
                f"the file does not parse: {exc.msg}",
                "fix the syntax; nothing in this file can run",
            )
        ]
    return [f for check in CHECKS for f in check(path, tree)] + list(todo_comments(path, content))
