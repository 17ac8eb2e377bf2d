"""The committed schema.graphql matches the code; `rdflow export-schema` regenerates it."""

from __future__ import annotations

from server.cli import SCHEMA_FILE, export_schema_sdl


def test_committed_sdl_is_current():
    committed = SCHEMA_FILE.read_text()
    assert committed == export_schema_sdl(), (
        "schema.graphql is out of date with the code: run `rdflow export-schema` and commit the result"
    )
