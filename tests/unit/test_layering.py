"""The dependency rule, read from the source: domain/ imports no framework; resolvers/ and schema/ no SQLAlchemy."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = frozenset(
    {
        "strawberry",
        "starlette",
        "sqlalchemy",
        "alembic",
        "redis",
        "arq",
        "anthropic",
        "kubernetes",
        "aioboto3",
        "boto3",
        "botocore",
        "httpx",
        "uvicorn",
        "pydantic",
        "jwt",
        "pwdlib",
        "cryptography",
        "aiosqlite",
        "asyncpg",
    }
)
DYNAMIC_IMPORTERS = frozenset({"import_module", "__import__"})


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import anywhere in the file, including importlib calls with a literal."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in DYNAMIC_IMPORTERS
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def violations(folder: str, forbidden: frozenset[str], root: Path = ROOT) -> list[str]:
    """Each forbidden import under root/folder as 'path:line imports module'; a missing folder has none."""
    return [
        f"{path.relative_to(root)}:{line} imports {module}"
        for path in sorted((root / folder).rglob("*.py"))
        for line, module in sorted(imports_of(path))
        if module.split(".")[0] in forbidden
    ]


def test_domain_imports_no_framework():
    assert list((ROOT / "domain").rglob("*.py")), "domain/ has no Python files to check"
    assert violations("domain", FRAMEWORKS) == []


@pytest.mark.parametrize("folder", ["resolvers", "schema"])
def test_graphql_layers_never_touch_sqlalchemy(folder):
    assert violations(folder, frozenset({"sqlalchemy"})) == []


def test_every_import_form_is_seen(tmp_path):
    package = tmp_path / "domain"
    package.mkdir()
    (package / "leaky.py").write_text(
        "import os, sqlalchemy.orm\n"
        "from redis.asyncio import Redis\n"
        "from . import sibling\n"
        "import importlib\n"
        "def later():\n"
        "    from strawberry import type\n"
        "    return importlib.import_module('arq.connections'), __import__('jwt')\n"
    )

    assert violations("domain", FRAMEWORKS, root=tmp_path) == [
        "domain/leaky.py:1 imports sqlalchemy.orm",
        "domain/leaky.py:2 imports redis.asyncio",
        "domain/leaky.py:6 imports strawberry",
        "domain/leaky.py:7 imports arq.connections",
        "domain/leaky.py:7 imports jwt",
    ]


def test_a_missing_folder_has_nothing_to_check(tmp_path):
    assert violations("resolvers", frozenset({"sqlalchemy"}), root=tmp_path) == []
