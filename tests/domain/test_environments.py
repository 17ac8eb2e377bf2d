"""Environments: members read them (secret names only), project admins change them through checked settings,
secrets are stored encrypted and reach only a deploy job's config; every change is audited without a value."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from auth.secrets import FernetSecretBox
from domain.enums import Environment, Role
from domain.errors import Conflict, Forbidden, InvalidInput
from domain.services.environments import DNS_LABEL, EnvironmentService
from domain.services.projects import ProjectService

SA, PA, DEV, TESTER, GUEST = Role.SUPER_ADMIN, Role.PROJECT_ADMIN, Role.DEVELOPER, Role.TESTER, Role.GUEST
CANARY = "canary-7f3e9b1d-secret-value"


@pytest.fixture
def box() -> FernetSecretBox:
    return FernetSecretBox(Fernet.generate_key())


@pytest.fixture
def service(world, box) -> EnvironmentService:
    return EnvironmentService(world.deps, box)


def _everything_recorded(world) -> str:
    """Every audit row and every published event, as text."""
    rows = [vars(a) for a in world.db.rows("audit")] + [vars(e) for e in world.bus.published]
    return json.dumps(rows, default=str)


async def test_members_read_three_environments_with_defaults(world, service):
    project = world.project("Apollo Shop!")
    views = await service.list(world.user(GUEST, project), project.id)

    assert [v.settings.environment for v in views] == [Environment.DEV, Environment.STAGING, Environment.PROD]
    prefix = f"rdflow-apollo-shop-{project.id.hex[:8]}-"
    assert [v.settings.namespace for v in views] == [prefix + "dev", prefix + "staging", prefix + "prod"]
    assert all(DNS_LABEL.match(v.settings.namespace) for v in views)
    assert [(v.settings.replicas, v.settings.min_replicas, v.settings.max_replicas) for v in views] == [
        (1, 1, 3),
        (2, 2, 5),
        (3, 3, 10),
    ]
    prod = views[2].settings
    assert (prod.cpu_request, prod.cpu_limit, prod.memory_request, prod.memory_limit) == (
        "250m",
        "500m",
        "512Mi",
        "1Gi",
    )
    assert (prod.cpu_percent, prod.memory_percent, prod.updated_at) == (70, 80, None)
    assert world.db.rows("environments") == [] and world.db.commits == 0  # reading stores nothing


async def test_a_long_project_name_still_gives_a_dns_label(world, service):
    project = world.project("x" * 100)
    for view in await service.list(world.user(SA), project.id):
        assert len(view.settings.namespace) <= 63 and DNS_LABEL.match(view.settings.namespace)


async def test_non_members_may_not_read(world, service):
    project = world.project()
    with pytest.raises(Forbidden) as refused:
        await service.list(world.user(PA), project.id)
    assert refused.value.permission == "project:member"


@pytest.mark.parametrize("role", [DEV, TESTER, GUEST])
async def test_only_project_admins_change_environments(world, service, role):
    project = world.project()
    viewer = world.user(role, project)
    for call in (
        service.update(viewer, project.id, Environment.DEV, replicas=2),
        service.set_secret(viewer, project.id, Environment.DEV, "DB_PASSWORD", CANARY),
        service.delete_secret(viewer, project.id, Environment.DEV, "DB_PASSWORD"),
    ):
        with pytest.raises(Forbidden) as refused:
            await call
        assert refused.value.permission == "environment:manage"
    assert world.db.rows("environments") == [] and world.db.rows("environment_secrets") == []
    assert [a.outcome for a in world.db.rows("audit")] == ["DENIED"] * 3
    assert CANARY not in _everything_recorded(world)


async def test_an_admin_changes_settings_audited_and_announced(world, service):
    project = world.project()
    admin = world.user(PA, project)
    world.clock.advance(60)

    view = await service.update(
        admin,
        project.id,
        Environment.STAGING,
        namespace="shop-staging",
        replicas=4,
        cpu_request="0.5",
        cpu_limit="1",
        memory_request="1Gi",
        memory_limit="2048Mi",
        max_replicas=8,
        variables=[("LOG_LEVEL", "debug"), ("FEATURE_X", "on")],
    )

    env = view.settings
    assert (env.namespace, env.replicas, env.cpu_request, env.memory_limit, env.max_replicas) == (
        "shop-staging",
        4,
        "0.5",
        "2048Mi",
        8,
    )
    assert env.variables == {"LOG_LEVEL": "debug", "FEATURE_X": "on"}
    assert (env.updated_at, env.updated_by) == (world.clock.now(), admin.user_id)
    [stored] = world.db.rows("environments")
    assert stored.namespace == "shop-staging" and stored.environment is Environment.STAGING
    actions = [a.action for a in sorted(world.db.rows("audit"), key=lambda a: a.action)]
    assert actions == ["environment.create", "environment.update"]
    update = next(a for a in world.db.rows("audit") if a.action == "environment.update")
    assert (update.before["replicas"], update.after["replicas"]) == (2, 4)
    assert [(e.entity_type, e.action, e.data) for e in world.bus.published][-1] == (
        "ProjectEnvironment",
        "updated",
        {"environment": "STAGING"},
    )

    again = await service.update(admin, project.id, Environment.STAGING, replicas=5)
    assert again.settings.id == env.id and again.settings.variables == env.variables  # omitted: unchanged
    assert len(world.db.rows("environments")) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"namespace": "Shop_Staging"}, "namespace"),
        ({"namespace": "-shop"}, "namespace"),
        ({"namespace": "a" * 64}, "namespace"),
        ({"namespace": "kube-system"}, "namespace"),
        ({"namespace": "default"}, "namespace"),
        ({"namespace": "rdflow-someone-else-prod"}, "namespace"),
        ({"replicas": 0}, "replicas"),
        ({"replicas": 11}, "replicas"),
        ({"cpu_request": "lots"}, "resources.cpuRequest"),
        ({"cpu_request": "2", "cpu_limit": "500m"}, "resources.cpuRequest"),
        ({"memory_limit": "1 Gi"}, "resources.memoryLimit"),
        ({"memory_request": "2Gi"}, "resources.memoryRequest"),
        ({"min_replicas": 5, "max_replicas": 4}, "autoscaling.maxReplicas"),
        ({"cpu_percent": 0}, "autoscaling.cpuPercent"),
        ({"memory_percent": 101}, "autoscaling.memoryPercent"),
        ({"variables": [("1ABC", "x")]}, "variables.name"),
        ({"variables": [("A-B", "x")]}, "variables.name"),
        ({"variables": [("A", "1"), ("A", "2")]}, "variables.name"),
        ({"variables": [("A", "x" * 40_000)]}, "variables.value"),
        ({"variables": [(f"V{i}", "x") for i in range(101)]}, "variables"),
    ],
)
async def test_bad_settings_name_their_field_and_write_nothing(world, service, changes, field):
    project = world.project()
    admin = world.user(PA, project)
    with pytest.raises(InvalidInput) as refused:
        await service.update(admin, project.id, Environment.PROD, **changes)
    assert refused.value.field == field
    assert world.db.rows("environments") == [] and world.db.rows("audit") == []


async def test_a_namespace_belongs_to_one_environment(world, service):
    first, second = world.project("A"), world.project("B")
    admin = world.user(SA, first, second)
    await service.update(admin, first.id, Environment.PROD, namespace="shop")
    with pytest.raises(Conflict, match="shop"):
        await service.update(admin, second.id, Environment.PROD, namespace="shop")
    with pytest.raises(Conflict, match="shop"):
        await service.update(admin, first.id, Environment.DEV, namespace="shop")
    default = (await service.list(admin, first.id))[0].settings.namespace
    assert (await service.update(admin, first.id, Environment.DEV, namespace=default)).settings.namespace == default


async def test_secrets_are_encrypted_write_only_and_audited_by_name(world, service, box):
    project = world.project()
    admin = world.user(PA, project)
    member = world.user(DEV, project)

    view = await service.set_secret(admin, project.id, Environment.PROD, "DB_PASSWORD", CANARY)

    assert [(s.name, s.updated_by) for s in view.secrets] == [("DB_PASSWORD", admin.user_id)]
    [row] = world.db.rows("environment_secrets")
    assert CANARY not in row.value_encrypted and box.decrypt(row.value_encrypted) == CANARY
    read = await service.list(member, project.id)
    assert [s.name for s in read[2].secrets] == ["DB_PASSWORD"] and read[0].secrets == ()
    assert CANARY not in repr(read)  # the views carry names and times only
    [audit] = [a for a in world.db.rows("audit") if a.action == "environment.secret.set"]
    assert (audit.entity_type, audit.before, audit.after["name"], audit.after["valueChanged"]) == (
        "EnvironmentSecret",
        None,
        "DB_PASSWORD",
        True,
    )
    assert world.bus.published[-1].data == {"environment": "PROD", "secret": "DB_PASSWORD"}

    rotated = "rotated-" + CANARY
    await service.set_secret(admin, project.id, Environment.PROD, "DB_PASSWORD", rotated)
    [again] = world.db.rows("environment_secrets")
    assert again.id == row.id and box.decrypt(again.value_encrypted) == rotated

    await service.delete_secret(admin, project.id, Environment.PROD, "DB_PASSWORD")
    assert world.db.rows("environment_secrets") == []
    recorded = _everything_recorded(world)
    assert "DB_PASSWORD" in recorded
    for secret in (CANARY, rotated, row.value_encrypted, again.value_encrypted):
        assert secret not in recorded


async def test_secret_names_and_values_are_checked(world, service):
    project = world.project()
    admin = world.user(PA, project)
    await service.update(admin, project.id, Environment.DEV, variables=[("LOG_LEVEL", "info")])
    for name, value, field in (
        ("bad name", "x", "name"),
        ("LOG_LEVEL", "x", "name"),
        ("TOKEN", "", "value"),
        ("TOKEN", "x" * 40_000, "value"),
    ):
        with pytest.raises(InvalidInput) as refused:
            await service.set_secret(admin, project.id, Environment.DEV, name, value)
        assert refused.value.field == field
        assert not value or value[:20] not in refused.value.message
    await service.set_secret(admin, project.id, Environment.DEV, "TOKEN", CANARY)
    with pytest.raises(InvalidInput) as clash:
        await service.update(admin, project.id, Environment.DEV, variables=[("TOKEN", "plain")])
    assert clash.value.field == "variables"
    with pytest.raises(InvalidInput) as missing:
        await service.delete_secret(admin, project.id, Environment.DEV, "NOPE")
    assert missing.value.field == "name"


async def test_a_deploy_job_gets_the_config_with_decrypted_secrets(world, service):
    project = world.project("Shop")
    admin = world.user(PA, project)
    await service.update(admin, project.id, Environment.PROD, replicas=4, variables=[("MODE", "prod")])
    await service.set_secret(admin, project.id, Environment.PROD, "API_TOKEN", CANARY)
    await service.set_secret(admin, project.id, Environment.DEV, "API_TOKEN", "dev-token")

    config = await service.config_for(project.id, Environment.PROD)

    assert (config.project_id, config.environment, config.replicas) == (project.id, Environment.PROD, 4)
    assert config.namespace == f"rdflow-shop-{project.id.hex[:8]}-prod"
    assert (config.resources.cpu_request, config.autoscaling.max_replicas) == ("250m", 10)
    assert dict(config.variables) == {"MODE": "prod"} and dict(config.secrets) == {"API_TOKEN": CANARY}


async def test_the_first_deploy_keeps_the_default_namespace_across_a_rename(world, service):
    project = world.project("Shop")
    admin = world.user(SA, project)
    first = await service.config_for(project.id, Environment.STAGING)
    assert first.secrets == {} and first.replicas == 2
    await ProjectService(world.deps).update(admin, project.id, name="Renamed")
    assert (await service.config_for(project.id, Environment.STAGING)).namespace == first.namespace
    assert (await service.config_for(project.id, Environment.DEV)).namespace.startswith("rdflow-renamed-")
