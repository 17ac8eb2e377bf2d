"""Limit rules count each fragment once: a small document of fragments that spread the next one twice (2^n paths)
gets its verdict from work linear in its size, and a long chain of fragments does not exhaust the stack."""

from __future__ import annotations

import pytest
from graphql import parse, visit
from graphql.language import Visitor

from schema import limits, shape_limits
from schema.build import SchemaLimits, build_schema


def fan_out(n: int, leaf: str) -> str:
    """~28 bytes per fragment; `leaf` is reached along 2^n paths."""
    spreads = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(n)]
    return "\n".join(["query { ...F0 }", *spreads, f"fragment F{n} on Query {{ {leaf} }}"])


async def run(query: str, **limits_: int):
    return await build_schema(SchemaLimits(**limits_)).execute(query)


def messages(result) -> list[str]:
    return [e.message for e in result.errors or ()]


async def test_aliases_through_a_25_fragment_fan_out_are_all_counted():
    result = await run(fan_out(25, "a: __typename"))
    assert f"{2**25} aliases found. Allowed: 30" in messages(result)


async def test_cost_through_a_25_fragment_fan_out_is_priced_in_full():
    result = await run(fan_out(25, "projects(first: 1) { totalCount }"))
    refusal = next(e for e in result.errors if e.message.startswith("query cost"))
    assert refusal.extensions["cost"] == 2**25 and refusal.extensions["maxCost"] == 50_000


async def test_depth_through_a_25_fragment_fan_out_is_refused():
    result = await run(
        fan_out(25, "projects(first: 1) { nodes { requirements(first: 1) { nodes { id } } } }"), max_depth=3
    )
    assert "'anonymous' exceeds maximum operation depth of 3" in messages(result)


async def test_a_25_fragment_fan_out_within_every_limit_runs():
    result = await run(fan_out(25, "__typename"))
    assert result.errors is None and result.data == {"__typename": "Query"}


def selection_sets(query: str) -> int:
    class Count(Visitor):
        found = 0

        def enter_selection_set(self, *_args):
            Count.found += 1

    visit(parse(query), Count())
    return Count.found


@pytest.mark.parametrize("n", [10, 40])
async def test_each_rule_walks_each_selection_set_at_most_once(monkeypatch, n: int):
    walks = {"depth": 0, "aliases": 0, "cost": 0}

    def counting(name, walk):
        def counted(*args):
            walks[name] += 1
            return walk(*args)

        return counted

    monkeypatch.setattr(shape_limits, "depth", counting("depth", shape_limits.depth))
    monkeypatch.setattr(shape_limits, "aliases", counting("aliases", shape_limits.aliases))
    monkeypatch.setattr(limits._Cost, "_selection", counting("cost", limits._Cost._selection))
    query = fan_out(n, "projects(first: 1) { nodes { a: id } }")
    await run(query, max_aliases=10**30, max_cost=10**30)
    assert all(0 < count <= selection_sets(query) for count in walks.values()), (walks, selection_sets(query))


async def test_a_chain_of_hundreds_of_fragments_is_refused_not_crashed():
    n = 500
    chain = [f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(n)]
    result = await run("\n".join(["query { ...F0 }", *chain, f"fragment F{n} on Query {{ __typename }}"]))
    assert result.errors and all(e.extensions["code"] == "BAD_USER_INPUT" for e in result.errors), messages(result)
