"""JSON columns read back exactly what was written, on both backends: orjson reads them, except where it would
not read a value exactly (an integer beyond 64 bits) or at all (NaN)."""

from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, Table, select
from sqlalchemy.dialects.postgresql import JSONB

from persistence.engine import create_engine, read_json

VALUES = [
    {"plain": "text", "n": 42, "x": 1.5, "list": [1, "two", None, True], "nested": {"a": {"b": []}}},
    {"huge": 123456789012345678901234567890, "negative": -9223372036854775809},
    ["the digits of an id, not a number: 12345678901234567890123"],
    {"unicode": "é ✓ \U0001f600", "escaped": 'quote " and \\ backslash'},
]


@pytest.mark.parametrize("value", VALUES)
def test_read_json_reads_what_the_standard_library_reads(value):
    text = json.dumps(value)
    assert read_json(text) == json.loads(text)
    assert json.dumps(read_json(text)) == text  # types too: a huge integer stays an int


def test_read_json_reads_nan_as_pythons_writer_wrote_it():
    assert math.isnan(read_json(json.dumps({"v": float("nan")}))["v"])


def test_read_json_refuses_what_is_not_json():
    with pytest.raises(ValueError):
        read_json("{not json")


async def _round_trip(url: str, column_type: object) -> list[object]:
    engine = create_engine(url)
    table = Table("json_values", MetaData(), Column("id", Integer, primary_key=True), Column("v", column_type))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
            await conn.execute(table.insert(), [{"id": i, "v": v} for i, v in enumerate(VALUES)])
        async with engine.connect() as conn:
            return [row.v for row in await conn.execute(select(table).order_by(table.c.id))]
    finally:
        await engine.dispose()


async def test_sqlite_json_columns_read_back_exactly(tmp_path):
    assert await _round_trip(f"sqlite:///{tmp_path}/j.db", JSON()) == VALUES


@pytest.mark.postgres
async def test_postgres_jsonb_columns_read_back_exactly(fresh_postgres_url):
    read = await _round_trip(fresh_postgres_url, JSONB())
    assert read == VALUES
    assert isinstance(read[1]["huge"], int)
