"""The committed schema.graphql matches the code; `rdflow export-schema` regenerates it."""

from __future__ import annotations

from server.cli import SCHEMA_FILE, export_schema_sdl


def test_committed_sdl_is_current():
    committed = SCHEMA_FILE.read_text()
    assert committed == export_schema_sdl(), (
        "schema.graphql is out of date with the code: run `rdflow export-schema` and commit the result"
    )


def test_ai_model_temperature_is_deprecated_because_the_provider_refuses_it():
    """The Anthropic API version the SDK sends refuses sampling parameters: the field says so instead of lying."""
    from schema.build import build_schema

    schema = build_schema()._schema
    for type_name in ("AiModelConfig", "CreateAiModelInput", "UpdateAiModelInput"):
        field = schema.get_type(type_name).fields["temperature"]
        assert field.deprecation_reason and "2026-10-21" in field.deprecation_reason, type_name
