"""The wheel carries what `rdflow migrate` needs (the migration scripts inside persistence/) and nothing that shadows
a library; the full install-migrate-serve round trip is `make wheel-check`."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )
    (wheel,) = out.glob("rdflow-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.mark.slow
def test_the_wheel_ships_every_migration_inside_persistence(wheel_names):
    migrations = {f"persistence/alembic/versions/{p.name}" for p in (ROOT / "alembic" / "versions").glob("*.py")}
    assert migrations, "no migrations found in alembic/versions"

    missing = {"persistence/alembic/env.py", "persistence/alembic/script.py.mako", "persistence/alembic.ini"}
    assert (migrations | missing) - wheel_names == set()


@pytest.mark.slow
def test_the_wheel_ships_graphiqls_page_and_every_asset_in_its_manifest(wheel_names):
    static = ROOT / "server" / "static"
    assets = json.loads((static / "graphiql" / "manifest.json").read_text())["files"]
    shipped = {"server/static/graphiql.html", "server/static/graphiql/manifest.json"}

    assert shipped | {f"server/static/graphiql/{name}" for name in assets} <= wheel_names


@pytest.mark.slow
def test_the_wheel_installs_only_the_project_packages(wheel_names):
    top_level = {name.split("/")[0] for name in wheel_names if not name.startswith("rdflow-")}

    assert top_level == {"auth", "domain", "integrations", "jobs", "persistence", "resolvers", "schema", "server"}
