"""The coverage report is a file the tests themselves can overwrite: a value no column can hold (a percentage of 1e9,
NaN, a count that is a string, a path with NUL) makes the report unreadable, a run's problem rather than a failed
job when PostgreSQL refuses it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from domain.ports import CoverageTotals
from integrations.sandbox import SandboxConfig, SandboxTestRunner
from integrations.sandbox_reports import parse_coverage

JUNIT = b'<testsuites><testsuite><testcase classname="tests.test_x" name="test_a" file="tests/test_x.py"/></testsuite>'
JUNIT += b"</testsuites>"
SUMMARY = {"covered_lines": 3, "num_statements": 4, "percent_covered": 75.0, "missing_lines": 1}
FORGED = [
    ("percent_covered", 1e9),
    ("percent_covered", math.nan),
    ("percent_covered", math.inf),
    ("percent_covered", -1),
    ("percent_covered", 100.01),
    ("percent_covered", "75"),
    ("percent_covered", True),
    ("percent_covered", None),
    ("covered_lines", -1),
    ("covered_lines", 2**31),
    ("covered_lines", 10**100),
    ("covered_lines", 3.0),
    ("covered_lines", "3"),
    ("covered_lines", "\x00"),
    ("num_statements", True),
    ("num_statements", [4]),
]


def report(totals: dict | None = None, files: dict | None = None) -> bytes:
    files = {"app/calc.py": {"summary": SUMMARY}} if files is None else files
    return json.dumps({"meta": {"version": "7.6"}, "totals": totals or SUMMARY, "files": files}).encode()


def storable(value: object) -> None:
    """What PostgreSQL's JSONB takes: no NaN or infinity, no NUL, no lone surrogate."""
    text = json.dumps(value, allow_nan=False)
    assert "\\u0000" not in text and "\x00" not in text
    text.encode("utf-8")


def test_a_genuine_report_is_read():
    totals, files = parse_coverage(report({**SUMMARY, "percent_covered": 100, "covered_lines": 4}))
    assert totals == CoverageTotals(covered_lines=4, num_statements=4, percent=100.0)
    assert files == {"app/calc.py": {"coveredLines": 3, "numStatements": 4, "percent": 75.0}}


@pytest.mark.parametrize(("key", "value"), FORGED)
def test_a_forged_total_is_refused(key, value):
    with pytest.raises(ValueError, match=key) as refused:
        parse_coverage(report({**SUMMARY, key: value}))
    storable(str(refused.value))


@pytest.mark.parametrize(("key", "value"), FORGED)
def test_a_forged_file_summary_is_refused(key, value):
    with pytest.raises(ValueError, match=key) as refused:
        parse_coverage(report(files={"app/calc.py": {"summary": {**SUMMARY, key: value}}}))
    storable(str(refused.value))


@pytest.mark.parametrize("path", ["\x00", "app/\x00calc.py", "app/\ud800.py"])
def test_a_path_no_database_can_store_is_refused(path):
    with pytest.raises(ValueError, match="file path") as refused:
        parse_coverage(report(files={path: {"summary": SUMMARY}}))
    storable(str(refused.value))


@pytest.mark.parametrize(
    "forged",
    [
        report({**SUMMARY, "percent_covered": 1e9}),
        report({**SUMMARY, "covered_lines": "\x00"}),
        report(files={"\x00": {"summary": SUMMARY}}),
        b'{"totals": {"covered_lines": 1, "num_statements": 1, "percent_covered": NaN}, "files": {}}',
    ],
)
def test_the_run_notes_a_forged_report_as_unreadable_and_stays_storable(tmp_path: Path, forged: bytes):
    out = tmp_path / "out"
    out.mkdir()
    (out / "junit.xml").write_bytes(JUNIT)
    (out / "coverage.json").write_bytes(forged)
    (tmp_path / "output.txt").write_text("1 passed\n")
    runner = SandboxTestRunner(SandboxConfig(root=tmp_path / "sandboxes"))
    run = runner._report(out, tmp_path / "output.txt", 0, False, 10, False)
    assert run.error is None and (run.total, run.passed) == (1, 1) and run.coverage is None
    assert run.details is not None and run.details["coverageFiles"] == {}
    assert [p.split(":")[0] for p in run.details["problems"]] == ["unreadable coverage report"]
    storable(run.details)
