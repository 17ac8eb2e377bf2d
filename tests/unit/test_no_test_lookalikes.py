"""Product code does not bend to pytest: no product module looks like a test file, no class carries `__test__`,
and product classes named Test* (TestResult, TestType) imported into a test module are not collected."""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

from domain.enums import TestType
from domain.model import TestResult
from tests.conftest import pytest_pycollect_makeitem

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("domain", "schema", "resolvers", "persistence", "integrations", "jobs", "auth", "server")


def product_modules() -> list[Path]:
    return [p for package in PRODUCT for p in (ROOT / package).rglob("*.py")]


def test_no_product_module_matches_pytests_file_patterns():
    lookalikes = [p for p in product_modules() if fnmatch.fnmatch(p.name, "test_*.py") or p.name.endswith("_test.py")]
    assert lookalikes == []


def test_no_product_class_opts_out_of_collection():
    flagged = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in product_modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__test__" for t in node.targets)
    ]
    assert flagged == []


class TestCollectedHere:
    def test_classes_of_the_tests_themselves_are_collected(self):
        assert pytest_pycollect_makeitem(collector=None, name="TestCollectedHere", obj=TestCollectedHere) is None


def test_product_classes_named_like_tests_are_not_collected():
    assert pytest_pycollect_makeitem(collector=None, name="TestResult", obj=TestResult) == []
    assert pytest_pycollect_makeitem(collector=None, name="TestType", obj=TestType) == []
