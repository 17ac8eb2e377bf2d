"""File paths the test sandbox could not create are refused at submitArtifact, not when the task's tests run: a
folder or file name over 255 bytes, and a path that is a file and a folder of the same task at once."""

from __future__ import annotations

import pytest

from tests.api import Api
from tests.e2e.test_crud_api import project, requirement, task
from tests.e2e.test_errors import count
from tests.e2e.test_hostile_input import SUBMIT, assert_refused

DELETE = "mutation($id: ID!) { deleteArtifact(id: $id) }"


async def new_task(api: Api) -> str:
    return (await task(api, await requirement(api, await project(api)), "Build"))["id"]


async def submit(api: Api, task_id: str, path: str):
    return await api.post(
        SUBMIT, {"input": {"taskId": task_id, "filePath": path, "content": "x = 1\n", "language": "py"}}
    )


@pytest.mark.parametrize(
    "path",
    ["a" * 300 + "/test_a.py", "\u00e9" * 130 + ".py", "src/" + "\u00e9" * 128 + "/x.py"],
    ids=["ascii-folder-300", "utf8-file-263", "utf8-folder-256"],
)
async def test_a_folder_or_file_name_over_255_bytes_is_refused(api: Api, path: str):
    t = await new_task(api)
    error = assert_refused(await submit(api, t, path), field="filePath", status=200)
    assert "255" in error["message"] and "bytes" in error["message"], error
    assert await count(api, "code_artifacts") == 0


async def test_a_name_of_exactly_255_bytes_is_taken(api: Api):
    t = await new_task(api)
    path = "\u00e9" * 126 + ".py"  # 129 characters, 255 bytes
    data = (await submit(api, t, path)).json()
    assert data.get("errors") is None and data["data"]["submitArtifact"]["fileName"] == path, data
    assert await count(api, "code_artifacts") == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [("pkg", "pkg/test_x.py"), ("pkg/test_x.py", "pkg"), ("a", "a/b/c/test_d.py"), ("a/b/c/test_d.py", "a/b")],
    ids=["file-then-under-it", "under-it-then-file", "file-then-deep", "deep-then-folder"],
)
async def test_a_path_that_is_a_file_and_a_folder_of_one_task_is_refused(api: Api, first: str, second: str):
    t = await new_task(api)
    assert (await submit(api, t, first)).json().get("errors") is None
    error = assert_refused(await submit(api, t, second), field="filePath", status=200)
    assert repr(first) in error["message"], error  # names the file it clashes with
    assert await count(api, "code_artifacts") == 1


async def test_every_stored_version_counts_and_neighbours_do_not_clash(api: Api):
    t = await new_task(api)
    for path in ("pkg.py", "pkg2/test_x.py", "pk/test_x.py"):  # names that only start like "pkg"
        await api.gql(SUBMIT, {"input": {"taskId": t, "filePath": path, "content": "x = 1\n", "language": "py"}})
    first, second = [
        (await api.gql(SUBMIT, {"input": {"taskId": t, "filePath": "pkg", "content": c, "language": "py"}}))
        for c in ("1", "2")
    ]
    await api.gql(DELETE, {"id": second["submitArtifact"]["id"]})
    assert_refused(await submit(api, t, "pkg/test_x.py"), field="filePath", status=200)  # version 1 is still there
    await api.gql(DELETE, {"id": first["submitArtifact"]["id"]})
    await api.gql(SUBMIT, {"input": {"taskId": t, "filePath": "pkg/test_x.py", "content": "x", "language": "py"}})
    # Another task's files are a folder tree of their own.
    other = (await task(api, await requirement(api, await project(api, "Other")), "Build"))["id"]
    assert (await submit(api, other, "pkg")).json().get("errors") is None
    assert await count(api, "code_artifacts") == 5
