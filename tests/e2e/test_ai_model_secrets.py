"""AI provider keys: write-only through the API, encrypted at rest with the deployment's Fernet key, and only
super admins (system:config) may store one."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from auth.secrets import FernetSecretBox, development_key
from domain.enums import Role
from persistence.tables import ai_model_configs, audit_log
from resolvers.ids import from_global_id
from tests.api import Api

API_KEY = "sk-ant-api03-TEST-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
NEW_KEY = "sk-ant-api03-ROTATED-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
FIELDS = "id name provider model baseUrl maxTokens temperature isDefault updatedAt hasApiKey"
CREATE = f"""mutation($input: CreateAiModelInput!) {{ createAiModel(input: $input) {{ {FIELDS} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: UpdateAiModelInput!) {{
  updateAiModel(id: $id, input: $input) {{ {FIELDS} }} }}"""
LIST = f"{{ aiModels(first: 10) {{ nodes {{ {FIELDS} }} }} }}"
AUDIT = """{ auditLog(first: 50, filter: {entityType: "AiModelConfig"}) { nodes { action outcome before after } } }"""


def model_input(**overrides) -> dict:
    return {
        "name": "claude-prod",
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "apiKey": API_KEY,
        "maxTokens": 2048,
        "temperature": 0.1,
        **overrides,
    }


def secret_box(api: Api) -> FernetSecretBox:
    settings = api.container.settings
    return FernetSecretBox(settings.fernet_key or development_key(settings.data_dir))


async def stored_rows(api: Api) -> list[dict]:
    async with api.container.engine.connect() as conn:
        return [dict(r._mapping) for r in (await conn.execute(select(ai_model_configs))).all()]


async def raw(api: Api, query: str, variables: dict | None = None, as_: str = "admin") -> str:
    """The response body exactly as sent over the wire."""
    return (await api.post(query, variables, as_=as_)).text


async def test_the_api_key_is_write_only_and_encrypted_at_rest(api: Api):
    created_text = await raw(api, CREATE, {"input": model_input()})
    created = json.loads(created_text)["data"]["createAiModel"]
    assert API_KEY not in created_text
    assert created["hasApiKey"] is True and created["provider"] == "anthropic"

    listed_text = await raw(api, LIST)
    assert API_KEY not in listed_text
    assert json.loads(listed_text)["data"]["aiModels"]["nodes"] == [created]

    [row] = await stored_rows(api)
    assert row["id"] == from_global_id(created["id"])[1]
    ciphertext = row["api_key_encrypted"]
    assert ciphertext and ciphertext != API_KEY and API_KEY not in ciphertext
    assert secret_box(api).decrypt(ciphertext) == API_KEY
    assert ciphertext not in created_text  # the ciphertext is not exposed either

    audit_text = await raw(api, AUDIT)
    assert json.loads(audit_text)["data"]["auditLog"]["nodes"], audit_text
    assert API_KEY not in audit_text and ciphertext not in audit_text


async def test_no_field_of_the_model_type_can_return_the_key(api: Api):
    introspection = await api.gql('{ __type(name: "AiModelConfig") { fields { name } } }')
    names = {f["name"] for f in introspection["__type"]["fields"]}
    assert "hasApiKey" in names
    assert [n for n in names if "key" in n.lower() and n != "hasApiKey"] == []
    asked = await api.post("{ aiModels { nodes { apiKey } } }")
    assert asked.json()["errors"] and "apiKey" in asked.json()["errors"][0]["message"]


async def test_rotating_and_clearing_the_key(api: Api):
    created = (await api.gql(CREATE, {"input": model_input()}))["createAiModel"]
    rotated_text = await raw(api, UPDATE, {"id": created["id"], "input": {"apiKey": NEW_KEY}})
    assert NEW_KEY not in rotated_text and API_KEY not in rotated_text
    assert json.loads(rotated_text)["data"]["updateAiModel"]["hasApiKey"] is True
    [row] = await stored_rows(api)
    assert NEW_KEY not in row["api_key_encrypted"] and secret_box(api).decrypt(row["api_key_encrypted"]) == NEW_KEY

    untouched = (await api.gql(UPDATE, {"id": created["id"], "input": {"maxTokens": 1000}}))["updateAiModel"]
    assert (
        untouched["hasApiKey"] is True and (await stored_rows(api))[0]["api_key_encrypted"] == row["api_key_encrypted"]
    )

    cleared = (await api.gql(UPDATE, {"id": created["id"], "input": {"apiKey": None}}))["updateAiModel"]
    assert cleared["hasApiKey"] is False and (await stored_rows(api))[0]["api_key_encrypted"] is None


@pytest.mark.parametrize("role", [Role.PROJECT_ADMIN, Role.DEVELOPER, Role.TESTER, Role.GUEST])
async def test_only_super_admins_may_store_a_model_and_its_key(api: Api, role: Role):
    await api.user("someone", role)
    async with api.container.engine.connect() as conn:
        audit_before = (await conn.execute(select(func.count()).select_from(audit_log))).scalar_one()
    response = await api.post(CREATE, {"input": model_input()}, as_="someone")
    body = response.json()
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN" and error["extensions"]["permission"] == "system:config"
    assert "system:config" in error["message"] and API_KEY not in response.text

    assert await stored_rows(api) == []
    async with api.container.engine.connect() as conn:
        new_audit = [
            dict(r._mapping)
            for r in (await conn.execute(select(audit_log).order_by(audit_log.c.at).offset(audit_before))).all()
        ]
    assert [(a["action"], a["outcome"]) for a in new_audit] == [("ai_model.create", "DENIED")]
    assert API_KEY not in json.dumps(new_audit, default=str)
    assert (await api.gql("{ aiModels { nodes { id } } }"))["aiModels"]["nodes"] == []


async def test_system_configuration_and_audit_entries_resolve_as_nodes_for_super_admins_only(sqlite_api: Api):
    api = sqlite_api
    model = (await api.gql(CREATE, {"input": model_input()}))["createAiModel"]
    prompt = (
        await api.gql("""mutation { savePromptTemplate(input: {identifier: "prd.default", category: "prd",
        content: "Draft a PRD for {title}", variables: ["title"]}) { id } }""")
    )["savePromptTemplate"]
    entry_id = (await api.gql("{ auditLog(first: 1) { nodes { id } } }"))["auditLog"]["nodes"][0]["id"]
    node = """query($id: ID!) { node(id: $id) { id ... on AiModelConfig { name hasApiKey }
        ... on PromptTemplate { identifier } ... on AuditEntry { action } } }"""
    assert (await api.gql(node, {"id": model["id"]}))["node"] == {
        "id": model["id"],
        "name": "claude-prod",
        "hasApiKey": True,
    }
    assert (await api.gql(node, {"id": prompt["id"]}))["node"]["identifier"] == "prd.default"
    assert (await api.gql(node, {"id": entry_id}))["node"]["action"]
    await api.user("pa", Role.PROJECT_ADMIN)
    for global_id, permission in (
        (model["id"], "system:config"),
        (prompt["id"], "system:config"),
        (entry_id, "audit:read"),
    ):
        error = await api.error(node, {"id": global_id}, as_="pa")
        assert (error["extensions"]["code"], error["extensions"]["permission"]) == ("FORBIDDEN", permission)
