"""The dependency rule: import-linter's contracts (pyproject.toml) hold; domain/ imports only the standard library."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
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


def outside_allowlist(package: str, root: Path = ROOT) -> list[str]:
    """Each import under root/package that is neither the standard library nor the package itself."""
    return [
        f"{path.relative_to(root)}:{line} imports {module}"
        for path in sorted((root / package).rglob("*.py"))
        for line, module in sorted(imports_of(path))
        if module.split(".")[0] not in sys.stdlib_module_names | {package}
    ]


def lint_imports(cwd: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the pyproject.toml in cwd, limited to the given contract ids (all when none)."""
    limits = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *limits],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": str(LINT_IMPORTS.parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_domain_imports_only_the_standard_library_and_itself():
    assert list((ROOT / "domain").rglob("*.py")), "domain/ has no Python files to check"
    assert outside_allowlist("domain") == []


def test_every_import_form_is_seen(tmp_path):
    package = tmp_path / "domain"
    package.mkdir()
    (package / "leaky.py").write_text(
        "import os, sqlalchemy.orm\n"
        "from redis.asyncio import Redis\n"
        "from . import sibling\n"
        "from domain.model import User\n"
        "import importlib\n"
        "def later():\n"
        "    from pydantic import BaseModel\n"
        "    return importlib.import_module('arq.connections'), __import__('persistence.tables')\n"
    )

    assert outside_allowlist("domain", root=tmp_path) == [
        "domain/leaky.py:1 imports sqlalchemy.orm",
        "domain/leaky.py:2 imports redis.asyncio",
        "domain/leaky.py:7 imports pydantic",
        "domain/leaky.py:8 imports arq.connections",
        "domain/leaky.py:8 imports persistence.tables",
    ]


def _tree(root: Path, modules: dict[str, str]) -> None:
    """A throw-away project under the real contracts: every root package, empty, plus the given modules."""
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (root / "pyproject.toml").write_text(config)
    for package in tomllib.loads(config)["tool"]["importlinter"]["root_packages"]:
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
    for dotted, source in modules.items():
        path = root.joinpath(*dotted.split(".")).with_suffix(".py")
        path.parent.mkdir(exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(source)


# Every module a contract names must be in the graph (and every ignored import present), whatever the case tests.
SUPPORT = {
    "server.wiring": "import strawberry, starlette, uvicorn, sqlalchemy, alembic, redis, arq, anthropic, aioboto3\n"
    "import pydantic, jwt, cryptography\n",
    "domain.services.pipeline": "",
}


@pytest.mark.parametrize(
    ("contract", "module", "source"),
    [
        ("layers", "domain.model", "import resolvers.context\n"),
        ("adapters-independent", "integrations.tokens", "from persistence import tables\n"),
        ("server-wires", "jobs.worker", "from server.container import build_container\n"),
        ("graphql-no-adapters", "resolvers.users", "import sqlalchemy\nfrom integrations import clock\n"),
        ("resolvers-no-http", "resolvers.users", "from starlette.requests import Request\n"),
        ("schema-through-resolvers", "schema.pipeline", "from domain.services.pipeline import Strategy\n"),
        ("domain-no-framework", "domain.model", "import strawberry\n"),
    ],
)
def test_each_contract_catches_its_violation(tmp_path, contract, module, source):
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    clean.mkdir()
    dirty.mkdir()
    _tree(clean, SUPPORT)
    _tree(dirty, {**SUPPORT, module: source})

    kept = lint_imports(clean, contract)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    broken = lint_imports(dirty, contract)
    assert broken.returncode != 0, broken.stdout + broken.stderr
    assert "BROKEN" in broken.stdout
