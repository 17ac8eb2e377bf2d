"""Priorities sort by rank (LOW < MEDIUM < HIGH < CRITICAL), both directions, and cursors page through that order."""

from __future__ import annotations

from tests.api import Api
from tests.e2e.test_crud_api import CREATE_REQ, project, task

RANKS = ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
# Several of each, created out of order, so neither insertion nor alphabetical order passes for rank order.
CREATED = ["MEDIUM", "CRITICAL", "LOW", "HIGH", "MEDIUM", "LOW", "CRITICAL", "HIGH"]

REQUIREMENTS = """query($id: ID!, $dir: SortDirection!, $first: Int, $after: String) { project(id: $id) {
  requirements(first: $first, after: $after, orderBy: {field: PRIORITY, direction: $dir}) {
    nodes { priority } pageInfo { hasNextPage endCursor } } } }"""
TASKS = """query($dir: SortDirection!, $first: Int, $after: String) {
  tasks(first: $first, after: $after, orderBy: {field: PRIORITY, direction: $dir}) {
    nodes { priority } pageInfo { hasNextPage endCursor } } }"""
NESTED_TASKS = """query($id: ID!, $dir: SortDirection!, $first: Int, $after: String) { requirement(id: $id) {
  tasks(first: $first, after: $after, orderBy: {field: PRIORITY, direction: $dir}) {
    nodes { priority } pageInfo { hasNextPage endCursor } } } }"""


def by_rank(direction: str) -> list[str]:
    ranked = sorted(CREATED, key=RANKS.index)
    return ranked if direction == "ASC" else ranked[::-1]


async def priorities(api: Api, query: str, path: list[str], variables: dict, first: int | None = None) -> list[str]:
    """Every priority in the connection, a page of `first` at a time (one page when None)."""
    found, after = [], None
    while True:
        data = await api.gql(query, {**variables, "first": first, "after": after})
        for key in path:
            data = data[key]
        found += [n["priority"] for n in data["nodes"]]
        if first is None or not data["pageInfo"]["hasNextPage"]:
            return found
        after = data["pageInfo"]["endCursor"]


async def test_requirements_and_tasks_sort_by_priority_rank_across_pages(api: Api):
    pid = await project(api)
    rids = []
    for n, priority in enumerate(CREATED):
        data = await api.gql(
            CREATE_REQ, {"input": {"projectId": pid, "title": f"r{n}", "content": "c", "priority": priority}}
        )
        rids.append(data["createRequirement"]["id"])
    for n, priority in enumerate(CREATED):
        await task(api, rids[0], f"t{n}", priority=priority)

    for direction in ("ASC", "DESC"):
        for first in (None, 3):
            cases = [
                (REQUIREMENTS, ["project", "requirements"], {"id": pid}),
                (TASKS, ["tasks"], {}),
                (NESTED_TASKS, ["requirement", "tasks"], {"id": rids[0]}),
            ]
            for query, path, variables in cases:
                listed = await priorities(api, query, path, {**variables, "dir": direction}, first)
                assert listed == by_rank(direction), (path, direction, first)
