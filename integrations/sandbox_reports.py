"""Reading what a sandboxed pytest run wrote: its JUnit XML and coverage.py JSON, as untrusted files."""

from __future__ import annotations

import json
import os
import stat
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.ports import CoverageTotals, FailedTest
from domain.validation import UNSTORABLE  # the XML parser already refuses both in the JUnit report

MAX_REPORT_BYTES = 5_000_000
MAX_MESSAGE = 2_000
MAX_DETAIL = 4_000
MAX_FAILURES = 200
MAX_COUNT = 2**31 - 1  # an INTEGER column


def read_untrusted(path: Path, limit: int = MAX_REPORT_BYTES, *, tail: bool = False) -> bytes | None:
    """The bytes of a regular file the sandbox wrote, or None: never follows a symlink (the tests could point one
    at a file only the worker may read) and never reads more than `limit` (the last ones with `tail`)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None
        if tail and info.st_size > limit:
            handle.seek(info.st_size - limit)
        return handle.read(limit)


@dataclass
class JUnitTotals:
    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[FailedTest] = field(default_factory=list)
    details: list[dict[str, str]] = field(default_factory=list)


def _node_id(case: ET.Element) -> str:
    """pytest's node id (`tests/test_x.py::TestA::test_b[1]`) rebuilt from an xunit1 testcase."""
    name = case.get("name", "?")
    classname = case.get("classname", "")
    file = case.get("file")
    if not file:
        return f"{classname}::{name}" if classname else name
    module = file[:-3].replace("/", ".") if file.endswith(".py") else file
    inner = classname[len(module) :].lstrip(".") if classname.startswith(module) else ""
    return "::".join(part for part in (file, inner.replace(".", "::"), name) if part)


def _message(outcome: ET.Element) -> str:
    """The failure's one-line message (pytest puts the assertion there), else the last line of its traceback."""
    lines = (outcome.text or "").strip().splitlines()
    text = (outcome.get("message") or "").strip() or (lines[-1] if lines else outcome.tag)
    return text[:MAX_MESSAGE]


def parse_junit(data: bytes) -> JUnitTotals:
    """Totals and failing tests of a pytest JUnit XML report (failures and errors both count as failed)."""
    root = ET.fromstring(data)
    totals = JUnitTotals()
    for case in root.iter("testcase"):
        totals.total += 1
        outcome = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
        if outcome is None:
            totals.passed += 1
        elif outcome.tag == "skipped":
            totals.skipped += 1
        else:
            totals.failed += 1
            if len(totals.failures) < MAX_FAILURES:
                name = _node_id(case)
                totals.failures.append(FailedTest(name=name, message=_message(outcome)))
                totals.details.append({"name": name, "kind": outcome.tag, "text": (outcome.text or "")[-MAX_DETAIL:]})
    return totals


def _count(summary: dict[str, Any], key: str) -> int:
    value = summary[key]
    if type(value) is not int or not 0 <= value <= MAX_COUNT:
        raise ValueError(f"{key} is not a line count")
    return value


def _percent(summary: dict[str, Any]) -> float:
    value = summary["percent_covered"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:  # NaN fails too
        raise ValueError("percent_covered is not a percentage")
    return round(float(value), 2)


def _summary(summary: dict[str, Any]) -> CoverageTotals:
    """One coverage summary, refused unless it fits its columns: the tests can overwrite the report."""
    return CoverageTotals(_count(summary, "covered_lines"), _count(summary, "num_statements"), _percent(summary))


def _path(path: str) -> str:
    if UNSTORABLE.search(path):
        raise ValueError("a file path holds a NUL character or a lone surrogate")
    return path


def parse_coverage(data: bytes) -> tuple[CoverageTotals, dict[str, Any]]:
    """coverage.py's JSON report: the totals, and each measured file's summary (errors never quote the report)."""
    report = json.loads(data)
    files = {}
    for path, entry in report.get("files", {}).items():
        summary = _summary(entry["summary"])
        files[_path(path)] = {
            "coveredLines": summary.covered_lines,
            "numStatements": summary.num_statements,
            "percent": summary.percent,
        }
    return _summary(report["totals"]), files
