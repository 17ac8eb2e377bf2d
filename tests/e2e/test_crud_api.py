"""Create/update/delete and status transitions over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from domain.enums import DeploymentStatus, Role
from domain.permissions import Viewer
from resolvers.ids import from_global_id, to_global_id
from tests.api import Api

CREATE_PROJECT = """mutation($input: CreateProjectInput!) {
  createProject(input: $input) { id name status techStack createdBy { username } }
}"""
CREATE_REQ = """mutation($input: CreateRequirementInput!) {
  createRequirement(input: $input) { id title status priority meta project { id } }
}"""
CREATE_TASK = """mutation($input: CreateTaskInput!) {
  createTask(input: $input) { id name status taskType estimatedHours parent { id } dependencies { id } }
}"""


async def project(api: Api, name: str = "Billing") -> str:
    data = await api.gql(CREATE_PROJECT, {"input": {"name": name, "techStack": ["python"]}})
    return data["createProject"]["id"]


async def requirement(api: Api, project_id: str, title: str = "Invoices") -> str:
    data = await api.gql(
        CREATE_REQ, {"input": {"projectId": project_id, "title": title, "content": "Users export invoices as PDF."}}
    )
    return data["createRequirement"]["id"]


async def task(api: Api, requirement_id: str, name: str, **extra) -> dict:
    data = await api.gql(
        CREATE_TASK, {"input": {"requirementId": requirement_id, "name": name, "taskType": "BACKEND", **extra}}
    )
    return data["createTask"]


async def test_project_lifecycle(api: Api):
    created = await api.gql(CREATE_PROJECT, {"input": {"name": "  Billing ", "techStack": ["python", "vue"]}})
    p = created["createProject"]
    assert p["name"] == "Billing" and p["status"] == "PLANNING" and p["techStack"] == ["python", "vue"]
    assert p["createdBy"]["username"] == "admin"

    updated = await api.gql(
        """mutation($id: ID!) { updateProject(id: $id, input: {description: "d"}) {
        name description } }""",
        {"id": p["id"]},
    )
    assert updated["updateProject"] == {"name": "Billing", "description": "d"}

    moved = await api.gql(
        """mutation($id: ID!) { changeProjectStatus(id: $id, status: ACTIVE) { status } }""", {"id": p["id"]}
    )
    assert moved["changeProjectStatus"]["status"] == "ACTIVE"

    err = await api.error(
        """mutation($id: ID!) { changeProjectStatus(id: $id, status: PLANNING) { status } }""", {"id": p["id"]}
    )
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["extensions"]["currentStatus"] == "ACTIVE" and err["extensions"]["requestedStatus"] == "PLANNING"
    assert "ACTIVE" in err["message"] and "PLANNING" in err["message"]

    fetched = await api.gql("query($id: ID!) { node(id: $id) { id ... on Project { name status } } }", {"id": p["id"]})
    assert fetched["node"] == {"id": p["id"], "name": "Billing", "status": "ACTIVE"}

    deleted = await api.gql("mutation($id: ID!) { deleteProject(id: $id) }", {"id": p["id"]})
    assert deleted["deleteProject"] == p["id"]
    err = await api.error("query($id: ID!) { project(id: $id) { id } }", {"id": p["id"]})
    assert err["extensions"] == {
        "code": "NOT_FOUND",
        "errorId": "ERR_404_001",
        "entity": "Project",
        "id": str(from_global_id(p["id"])[1]),
    }


async def test_requirement_transitions_and_update(api: Api):
    rid = await requirement(api, await project(api))
    for status in ("ANALYZING", "APPROVED", "IN_PROGRESS", "DONE"):
        data = await api.gql(
            "mutation($id: ID!, $s: RequirementStatus!) { changeRequirementStatus(id: $id, status: $s) { status } }",
            {"id": rid, "s": status},
        )
        assert data["changeRequirementStatus"]["status"] == status
    err = await api.error(
        "mutation($id: ID!) { changeRequirementStatus(id: $id, status: REJECTED) { status } }", {"id": rid}
    )
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and err["extensions"]["currentStatus"] == "DONE"

    data = await api.gql(
        """mutation($id: ID!) { updateRequirement(id: $id, input: {priority: HIGH,
        tags: ["billing"], estimateHours: 12.5}) { priority meta } }""",
        {"id": rid},
    )
    assert data["updateRequirement"] == {"priority": "HIGH", "meta": {"tags": ["billing"], "estimateHours": 12.5}}


async def test_task_dependencies_block_start_and_refuse_cycles(api: Api):
    rid = await requirement(api, await project(api))
    design = await task(api, rid, "Design API", estimatedHours=4)
    build = await task(api, rid, "Build API", dependencyIds=[design["id"]])
    assert build["dependencies"] == [{"id": design["id"]}]
    sub = await task(api, rid, "Write handler", parentId=build["id"])
    assert sub["parent"] == {"id": build["id"]}

    err = await api.error(
        "mutation($id: ID!) { changeTaskStatus(id: $id, status: IN_PROGRESS) { status } }", {"id": build["id"]}
    )
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Design API (PENDING)" in err["message"]

    err = await api.error(
        "mutation($a: ID!, $b: ID!) { addTaskDependency(taskId: $a, dependsOnId: $b) { id } }",
        {"a": design["id"], "b": build["id"]},
    )
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and "cycle" in err["message"]

    for status in ("IN_PROGRESS", "DONE"):
        await api.gql(
            "mutation($id: ID!, $s: TaskStatus!) { changeTaskStatus(id: $id, status: $s) { status } }",
            {"id": design["id"], "s": status},
        )
    started = await api.gql(
        "mutation($id: ID!) { changeTaskStatus(id: $id, status: IN_PROGRESS) { status } }", {"id": build["id"]}
    )
    assert started["changeTaskStatus"]["status"] == "IN_PROGRESS"

    done = await api.gql(
        "query($id: ID!) { task(id: $id) { status completedAt subtasks { name } } }", {"id": design["id"]}
    )
    assert done["task"]["status"] == "DONE" and done["task"]["completedAt"] and done["task"]["subtasks"] == []
    parent = await api.gql("query($id: ID!) { task(id: $id) { subtasks { name } } }", {"id": build["id"]})
    assert parent["task"]["subtasks"] == [{"name": "Write handler"}]


async def test_assignment_needs_membership(api: Api):
    rid = await requirement(api, await project(api))
    t = await task(api, rid, "Build")
    outsider = await api.user("dora")
    gid = (await api.gql("{ users(filter: {role: [DEVELOPER]}) { nodes { id username } } }"))["users"]["nodes"]
    assert gid == [{"id": to_global_id("User", outsider.id), "username": "dora"}]
    err = await api.error(
        "mutation($id: ID!, $u: ID!) { assignTask(id: $id, userId: $u) { id } }", {"id": t["id"], "u": gid[0]["id"]}
    )
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and err["extensions"]["field"] == "assignedTo"
    unchanged = await api.gql("query($id: ID!) { task(id: $id) { assignedTo { id } } }", {"id": t["id"]})
    assert unchanged["task"]["assignedTo"] is None


async def test_artifact_versions_review_and_test_results(api: Api):
    rid = await requirement(api, await project(api))
    t = await task(api, rid, "Build")
    submit = """mutation($input: SubmitArtifactInput!) { submitArtifact(input: $input) {
        id version checksum filePath fileName linesOfCode content reviewStatus } }"""
    first = (
        await api.gql(
            submit,
            {"input": {"taskId": t["id"], "filePath": "app/main.py", "content": "print('v1')\n", "language": "python"}},
        )
    )["submitArtifact"]
    second = (
        await api.gql(
            submit,
            {
                "input": {
                    "taskId": t["id"],
                    "filePath": "app/main.py",
                    "content": "print('v2')\n\n",
                    "language": "python",
                }
            },
        )
    )["submitArtifact"]
    assert (first["version"], second["version"]) == (1, 2)
    assert first["content"] == "print('v1')\n" and second["linesOfCode"] == 1
    import hashlib

    assert second["checksum"] == hashlib.sha256(b"print('v2')\n\n").hexdigest()
    assert second["fileName"] == "main.py"

    err = await api.error(
        submit, {"input": {"taskId": t["id"], "filePath": "../etc/passwd", "content": "x", "language": "python"}}
    )
    assert err["extensions"]["field"] == "filePath"

    reviewed = await api.gql(
        """mutation($id: ID!) { submitReview(artifactId: $id, decision: APPROVED,
        comments: "ok") { reviewStatus reviewComments reviewedBy { username } } }""",
        {"id": second["id"]},
    )
    assert reviewed["submitReview"] == {
        "reviewStatus": "APPROVED",
        "reviewComments": "ok",
        "reviewedBy": {"username": "admin"},
    }

    rec = """mutation($input: RecordTestResultInput!) { recordTestResult(input: $input) { id total passed
        coveragePercent status } }"""
    result = await api.gql(
        rec,
        {
            "input": {
                "artifactId": second["id"],
                "testType": "UNIT",
                "status": "PASSED",
                "total": 3,
                "passed": 3,
                "coveragePercent": 87.5,
            }
        },
    )
    assert result["recordTestResult"]["coveragePercent"] == 87.5
    err = await api.error(
        rec, {"input": {"artifactId": second["id"], "testType": "UNIT", "status": "PASSED", "total": 1, "passed": 3}}
    )
    assert err["extensions"]["field"] == "total"

    nested = await api.gql(
        """query($id: ID!) { task(id: $id) { artifacts(orderBy: {field: VERSION,
        direction: DESC}) { totalCount nodes { version testResults { totalCount nodes { passed } } } } } }""",
        {"id": t["id"]},
    )
    arts = nested["task"]["artifacts"]
    assert arts["totalCount"] == 2 and [a["version"] for a in arts["nodes"]] == [2, 1]
    assert arts["nodes"][0]["testResults"] == {"totalCount": 1, "nodes": [{"passed": 3}]}


async def test_deployments_prod_needs_approval(api: Api):
    pid = await project(api, "Shop")
    create = """mutation($input: CreateDeploymentInput!) { createDeployment(input: $input) {
        id status k8sNamespace k8sDeploymentName } }"""
    prod = (await api.gql(create, {"input": {"projectId": pid, "environment": "PROD", "version": "1.2.0"}}))[
        "createDeployment"
    ]
    assert prod["status"] == "AWAITING_APPROVAL" and prod["k8sDeploymentName"] == "shop"
    err = await api.error(
        "mutation($id: ID!) { changeDeploymentStatus(id: $id, status: IN_PROGRESS) { status } }", {"id": prod["id"]}
    )
    assert err["extensions"]["currentStatus"] == "AWAITING_APPROVAL"
    approved = await api.gql(
        "mutation($id: ID!) { approveDeployment(id: $id) { status approvedBy { username } } }", {"id": prod["id"]}
    )
    assert approved["approveDeployment"] == {"status": "PENDING", "approvedBy": {"username": "admin"}}
    # Approved, it is rolled out by a job on the (simulated) cluster.
    admin = Viewer(user_id=api.users["admin"].id, role=Role.SUPER_ADMIN)
    done = await asyncio.wait_for(
        api.container.services.deployments.until_settled(admin, from_global_id(prod["id"])[1]), 60
    )
    assert done.status is DeploymentStatus.SUCCEEDED
    err = await api.error(create, {"input": {"projectId": pid, "environment": "DEV", "version": "1 2"}})
    assert err["extensions"]["field"] == "version"
    err = await api.error("mutation($id: ID!) { deleteProject(id: $id) }", {"id": pid})
    assert err["extensions"]["code"] == "CONFLICT"
