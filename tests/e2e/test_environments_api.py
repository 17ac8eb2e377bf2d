"""Environments and four-eyes approval over GraphQL (HTTP), on SQLite and PostgreSQL: members read environments
with secret names only, project admins change them, and PROD deployments are decided by a second admin."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from auth.secrets import FernetSecretBox, development_key
from domain.enums import Environment, Role
from domain.services.environments import MAX_SECRET_BYTES, MAX_VALUE, MAX_VARIABLE_BYTES
from persistence.tables import environment_secrets
from persistence.tables import environments as environments_table
from resolvers.ids import from_global_id
from tests.api import Api
from tests.e2e.test_crud_api import CREATE_PROJECT

ADD_MEMBER = "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }"
ENV_FIELDS = """environment namespace replicas variables { name value }
  resources { cpuRequest cpuLimit memoryRequest memoryLimit }
  autoscaling { minReplicas maxReplicas cpuPercent memoryPercent }
  secrets { name updatedAt updatedBy { username } } updatedAt updatedBy { username }"""
ENVIRONMENTS = f"query($p: ID!) {{ environments(projectId: $p) {{ {ENV_FIELDS} }} }}"
UPDATE = f"mutation($input: UpdateEnvironmentInput!) {{ updateEnvironment(input: $input) {{ {ENV_FIELDS} }} }}"
SET_SECRET = f"""mutation($p: ID!, $e: Environment!, $n: String!, $v: String!) {{
  setEnvironmentSecret(projectId: $p, environment: $e, name: $n, value: $v) {{ {ENV_FIELDS} }} }}"""
DELETE_SECRET = f"""mutation($p: ID!, $e: Environment!, $n: String!) {{
  deleteEnvironmentSecret(projectId: $p, environment: $e, name: $n) {{ {ENV_FIELDS} }} }}"""
DEPLOY = """mutation($p: ID!, $e: Environment!) {
  createDeployment(input: {projectId: $p, environment: $e, version: "1.0.0"}) { id status } }"""
DECISION = "status approvedBy { username } rejectedBy { username } rejectionReason"
APPROVE = f"mutation($id: ID!) {{ approveDeployment(id: $id) {{ {DECISION} }} }}"
REJECT = f"mutation($id: ID!, $r: String!) {{ rejectDeployment(id: $id, reason: $r) {{ {DECISION} }} }}"
CANARY = "canary-api-4b1f0e6a9c2d"


async def team(api: Api, *members: tuple[str, Role]) -> str:
    """A project created by the super admin `admin`, with `members` (name, role) added."""
    pid = (await api.gql(CREATE_PROJECT, {"input": {"name": "Shop"}}))["createProject"]["id"]
    for name, role in members:
        user = await api.user(name, role)
        user_id = (await api.gql("{ me { id } }", as_=name))["me"]["id"]
        assert user.username == name
        await api.gql(ADD_MEMBER, {"p": pid, "u": user_id})
    return pid


async def test_members_read_admins_change_and_secret_values_never_come_back(api: Api):
    pid = await team(api, ("lead", Role.PROJECT_ADMIN), ("dev", Role.DEVELOPER))

    listed = (await api.gql(ENVIRONMENTS, {"p": pid}, as_="dev"))["environments"]
    assert [e["environment"] for e in listed] == ["DEV", "STAGING", "PROD"]
    assert [e["replicas"] for e in listed] == [1, 2, 3] and listed[2]["autoscaling"]["maxReplicas"] == 10
    assert listed[0]["namespace"].startswith("rdflow-shop-") and listed[0]["namespace"].endswith("-dev")
    assert all(e["secrets"] == [] and e["updatedAt"] is None for e in listed)

    changed = (
        await api.gql(
            UPDATE,
            {
                "input": {
                    "projectId": pid,
                    "environment": "PROD",
                    "namespace": "shop-prod",
                    "replicas": 4,
                    "resources": {"cpuLimit": "2", "memoryLimit": "2Gi"},
                    "autoscaling": {"maxReplicas": 12},
                    "variables": [{"name": "LOG_LEVEL", "value": "warning"}],
                }
            },
            as_="lead",
        )
    )["updateEnvironment"]
    assert (changed["namespace"], changed["replicas"], changed["updatedBy"]) == ("shop-prod", 4, {"username": "lead"})
    assert changed["resources"] == {
        "cpuRequest": "250m",
        "cpuLimit": "2",
        "memoryRequest": "512Mi",
        "memoryLimit": "2Gi",
    }
    assert changed["autoscaling"]["maxReplicas"] == 12 and changed["autoscaling"]["minReplicas"] == 3
    assert changed["variables"] == [{"name": "LOG_LEVEL", "value": "warning"}]

    response = await api.post(SET_SECRET, {"p": pid, "e": "PROD", "n": "DB_PASSWORD", "v": CANARY}, as_="lead")
    assert CANARY not in response.text
    stored = response.json()["data"]["setEnvironmentSecret"]
    assert [(s["name"], s["updatedBy"]) for s in stored["secrets"]] == [("DB_PASSWORD", {"username": "lead"})]
    read = await api.post(ENVIRONMENTS, {"p": pid}, as_="dev")
    assert CANARY not in read.text and "DB_PASSWORD" in read.text
    async with api.container.engine.connect() as conn:
        [row] = (await conn.execute(select(environment_secrets))).all()
    settings = api.container.settings
    box = FernetSecretBox(settings.fernet_key or development_key(settings.data_dir))
    assert CANARY not in row.value_encrypted and box.decrypt(row.value_encrypted) == CANARY
    assert row.value_encrypted not in response.text + read.text
    config = await api.container.services.environments.config_for(from_global_id(pid)[1], Environment.PROD)
    assert (config.namespace, dict(config.secrets), dict(config.variables)) == (
        "shop-prod",
        {"DB_PASSWORD": CANARY},
        {"LOG_LEVEL": "warning"},
    )

    emptied = (await api.gql(DELETE_SECRET, {"p": pid, "e": "PROD", "n": "DB_PASSWORD"}, as_="lead"))[
        "deleteEnvironmentSecret"
    ]
    assert emptied["secrets"] == []


async def test_refusals_and_bad_input_name_the_rule_or_the_field(api: Api):
    pid = await team(api, ("lead", Role.PROJECT_ADMIN), ("dev", Role.DEVELOPER), ("guest", Role.GUEST))
    await api.user("outsider", Role.PROJECT_ADMIN)
    for user in ("dev", "guest"):
        for query, variables in (
            (UPDATE, {"input": {"projectId": pid, "environment": "DEV", "replicas": 2}}),
            (SET_SECRET, {"p": pid, "e": "DEV", "n": "TOKEN", "v": CANARY}),
        ):
            response = await api.post(query, variables, as_=user)
            [error] = response.json()["errors"]
            assert (error["extensions"]["code"], error["extensions"]["permission"]) == (
                "FORBIDDEN",
                "environment:manage",
            )
            assert CANARY not in response.text
    error = await api.error(ENVIRONMENTS, {"p": pid}, as_="outsider")
    assert (error["extensions"]["code"], error["extensions"]["permission"]) == ("FORBIDDEN", "project:member")

    for variables, field in (
        ({"input": {"projectId": pid, "environment": "DEV", "namespace": "Not A Label"}}, "namespace"),
        ({"input": {"projectId": pid, "environment": "DEV", "replicas": 9}}, "replicas"),
        ({"input": {"projectId": pid, "environment": "DEV", "resources": {"cpuRequest": "9"}}}, "resources.cpuRequest"),
        (
            {"input": {"projectId": pid, "environment": "DEV", "variables": [{"name": "A B", "value": ""}]}},
            "variables.name",
        ),
    ):
        error = await api.error(UPDATE, variables, as_="lead")
        assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    response = await api.post(SET_SECRET, {"p": pid, "e": "DEV", "n": "not valid", "v": CANARY}, as_="lead")
    [error] = response.json()["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "name")
    assert CANARY not in response.text
    assert (await api.gql(ENVIRONMENTS, {"p": pid}, as_="lead"))["environments"][0]["updatedAt"] is None


async def test_values_past_what_one_kubernetes_object_holds_are_refused_when_set(api: Api):
    pid = await team(api)
    value = "v" * MAX_VALUE  # 32 KiB: 16 fill the 512 KiB of one environment's secrets, 8 its 256 KiB of variables
    for i in range(MAX_SECRET_BYTES // MAX_VALUE):
        await api.gql(SET_SECRET, {"p": pid, "e": "DEV", "n": f"S{i}", "v": value})
    error = await api.error(SET_SECRET, {"p": pid, "e": "DEV", "n": "ONE_MORE", "v": "v"})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "value")
    assert str(MAX_SECRET_BYTES) in error["message"]
    await api.gql(SET_SECRET, {"p": pid, "e": "DEV", "n": "S0", "v": value})  # replacing one keeps the total
    await api.gql(SET_SECRET, {"p": pid, "e": "PROD", "n": "ONE_MORE", "v": value})  # another environment's own

    variables = [{"name": f"V{i}", "value": value} for i in range(MAX_VARIABLE_BYTES // MAX_VALUE + 1)]
    update = {"input": {"projectId": pid, "environment": "STAGING", "variables": variables}}
    error = await api.error(UPDATE, update)
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "variables.value")
    update["input"]["variables"] = variables[:-1]
    assert len((await api.gql(UPDATE, update))["updateEnvironment"]["variables"]) == len(variables) - 1


async def test_prod_needs_a_second_admin_and_a_super_admin_override_is_audited(api: Api):
    pid = await team(api, ("lead", Role.PROJECT_ADMIN), ("second", Role.PROJECT_ADMIN), ("dev", Role.DEVELOPER))

    assert (await api.gql(DEPLOY, {"p": pid, "e": "DEV"}, as_="dev"))["createDeployment"]["status"] == "PENDING"
    error = await api.error(DEPLOY, {"p": pid, "e": "PROD"}, as_="dev")
    assert (error["extensions"]["code"], error["extensions"]["permission"]) == ("FORBIDDEN", "deploy:any")

    first = (await api.gql(DEPLOY, {"p": pid, "e": "PROD"}, as_="lead"))["createDeployment"]
    assert first["status"] == "AWAITING_APPROVAL"
    for query, variables in ((APPROVE, {"id": first["id"]}), (REJECT, {"id": first["id"], "r": "mine"})):
        error = await api.error(query, variables, as_="lead")
        assert (error["extensions"]["code"], error["extensions"]["permission"]) == ("FORBIDDEN", "deploy:four-eyes")
    error = await api.error(APPROVE, {"id": first["id"]}, as_="dev")
    assert error["extensions"]["permission"] == "deploy:approve"

    rejected = (await api.gql(REJECT, {"id": first["id"], "r": "change freeze"}, as_="second"))["rejectDeployment"]
    assert rejected == {
        "status": "FAILED",
        "approvedBy": None,
        "rejectedBy": {"username": "second"},
        "rejectionReason": "change freeze",
    }
    again = (await api.gql(DEPLOY, {"p": pid, "e": "PROD"}, as_="lead"))["createDeployment"]
    approved = (await api.gql(APPROVE, {"id": again["id"]}, as_="second"))["approveDeployment"]
    assert (approved["status"], approved["approvedBy"]) == ("PENDING", {"username": "second"})

    own = (await api.gql(DEPLOY, {"p": pid, "e": "PROD"}))["createDeployment"]
    assert (await api.gql(APPROVE, {"id": own["id"]}))["approveDeployment"]["approvedBy"] == {"username": "admin"}
    audit = (
        await api.gql(
            """{ auditLog(first: 50, filter: {entityType: "Deployment"}) {
              nodes { action outcome entityId after actor { username } } } }"""
        )
    )["auditLog"]["nodes"]
    decisions = sorted(
        (a["action"], a["actor"]["username"], a["after"]["override"]) for a in audit if "override" in (a["after"] or {})
    )
    assert decisions == [
        ("deployment.approve", "second", False),
        ("deployment.approve.override", "admin", True),
        ("deployment.reject", "second", False),
    ]


async def test_first_changes_at_once_store_one_environment_and_every_secret(api: Api):
    pid = await team(api, ("lead", Role.PROJECT_ADMIN))
    names = [f"SECRET_{i}" for i in range(6)] * 2  # each name twice: the second replaces the first
    responses = await asyncio.gather(
        *(
            api.post(SET_SECRET, {"p": pid, "e": "STAGING", "n": n, "v": f"value-{i}"}, as_="lead")
            for i, n in enumerate(names)
        ),
        api.post(UPDATE, {"input": {"projectId": pid, "environment": "STAGING", "replicas": 3}}, as_="lead"),
    )
    assert all(r.status_code == 200 and "errors" not in r.json() for r in responses), [r.text for r in responses]
    async with api.container.engine.connect() as conn:
        environments = (await conn.execute(select(environments_table))).all()
        secrets = (await conn.execute(select(environment_secrets))).all()
    assert [(e.environment, e.replicas) for e in environments] == [("STAGING", 3)]
    assert sorted(s.name for s in secrets) == sorted(set(names))
