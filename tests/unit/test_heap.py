"""`rdflow serve`'s app settles its heap once startup is done (server/heap.py); an embedded or test app leaves the
process's collector alone. Each case runs in its own interpreter: freezing is process-wide."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server import heap

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import asyncio, gc, json, sys
from server import app as served
async def main():
    application = served.serving_app() if sys.argv[1] == "serve" else served.create_app()
    before = gc.get_freeze_count()
    async with application.router.lifespan_context(application):
        print(json.dumps({"before": before, "frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}))
asyncio.run(main())
"""


def _probe(factory: str, data_dir: Path) -> dict:
    env = {**os.environ, "RDFLOW_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    env.pop("RDFLOW_DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "server.cli", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, factory], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("factory", ["serve", "embedded"])
def test_only_the_served_app_freezes_what_startup_built(factory: str, tmp_path: Path) -> None:
    seen = _probe(factory, tmp_path)
    assert seen["before"] == 0
    if factory == "serve":
        assert seen["frozen"] > 50_000  # the schema, the metadata, the compiled statements...
        assert seen["threshold"] == [heap.YOUNG_THRESHOLD, heap.OLDER_THRESHOLD, heap.OLDEST_THRESHOLD]
    else:
        assert seen["frozen"] == 0
        assert seen["threshold"][0] != heap.YOUNG_THRESHOLD
