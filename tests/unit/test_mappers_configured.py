"""Mappers are configured when they are mapped: a fresh process's first request may read light rows (instances
built without an ORM query) and read their attributes before any ORM query has configured them."""

from __future__ import annotations

import subprocess
import sys

from tests.jobstack import ROOT

FRESH_PROCESS = """
from sqlalchemy import inspect
from persistence.mapping import ENTITY_TABLES, start_mappers
start_mappers()
unconfigured = [cls.__name__ for cls in ENTITY_TABLES if not inspect(cls).configured]
assert not unconfigured, unconfigured
"""


def test_every_mapper_is_configured_once_mapped_in_a_fresh_process():
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
