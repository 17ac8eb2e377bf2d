"""The query cost is priced once per document, operation and page-size variables, and each page size keeps its own
verdict: a small page after a refused large one runs, a large one after a small one is refused."""

from __future__ import annotations

from graphql import parse

from schema import limits
from schema.build import SchemaLimits, build_schema

QUERY = """query Q($n: Int, $after: String) { projects(first: $n, after: $after) {
    nodes { requirements(first: 100) { nodes { id } } } } }"""


def refused_for_cost(result) -> bool:
    return any(e.message.startswith("query cost") for e in result.errors or ())


async def test_each_page_size_is_priced_once_and_keeps_its_own_verdict(monkeypatch):
    priced = []
    real = limits.operation_cost

    def counting(*args, **kwargs):
        priced.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(limits, "operation_cost", counting)
    schema = build_schema(SchemaLimits(max_cost=1_000))
    verdicts = []
    for n, after in [(1, None), (100, None), (1, "YXJyYXljb25uZWN0aW9uOjA="), (100, "x"), (1, "y"), (None, None)]:
        result = await schema.execute(QUERY, variable_values={"n": n, "after": after})
        verdicts.append(refused_for_cost(result))

    # 1 + 1*101 = 102 is within 1,000; 100 + 100*101 is not, nor is the default page (100) for a null n.
    assert verdicts == [False, True, False, True, False, True]
    # Three page sizes (1, 100, null): the cursor is not a page size and does not make a request priced again.
    assert [v["n"] for v in priced] == [1, 100, None]


def test_page_variables_are_those_given_as_first_or_last_anywhere():
    document = parse(
        """query A($a: Int, $b: Int, $c: String) { projects(first: $a, after: $c) { nodes { ...R } } }
        fragment R on Project { requirements(last: $b) { nodes { id } } }"""
    )
    assert sorted(limits.page_variables_of(document)) == ["a", "b"]
