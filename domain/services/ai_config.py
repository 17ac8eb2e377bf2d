"""AI model configurations and prompt templates: system configuration, super admins only."""

from __future__ import annotations

import uuid

from domain import validation as v
from domain.ai.contracts import STEPS
from domain.errors import Conflict, InvalidInput
from domain.model import AiModelConfig, PromptTemplate
from domain.permissions import Permission, Viewer
from domain.ports import SecretBox
from domain.repos import AI_MODELS, PROMPTS
from domain.services.access import EntityReads, load
from domain.services.base import Deps, Tx, snapshot
from domain.services.changes import apply_changes
from domain.services.prompting import check_template
from domain.validation import UNSET

PROVIDERS = ("anthropic", "offline")
DEFAULT_LOCK = "ai_model_configs.is_default"  # no one row guards "at most one default": a named lock does


def _check_model(provider: str, max_tokens: int, temperature: float) -> None:
    if provider not in PROVIDERS:
        raise InvalidInput(f"provider must be one of {', '.join(PROVIDERS)}", field="provider")
    if not 1 <= max_tokens <= 200_000:
        raise InvalidInput("maxTokens must be between 1 and 200000", field="maxTokens")
    if not 0 <= temperature <= 1:
        raise InvalidInput("temperature must be between 0 and 1", field="temperature")


class AiConfigService:
    def __init__(self, deps: Deps, secrets: SecretBox):
        self.deps = deps
        self.secrets = secrets
        self.models = EntityReads(deps, AI_MODELS, Permission.SYSTEM_CONFIG, in_project=False)
        self.prompts = EntityReads(deps, PROMPTS, Permission.SYSTEM_CONFIG, in_project=False)

    async def create_model(
        self,
        viewer: Viewer,
        *,
        name: str,
        provider: str,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        max_tokens: int = 4096,
        temperature: float = 0.2,
        is_default: bool = False,
    ) -> AiModelConfig:
        async with Tx(self.deps, viewer, "ai_model.create") as tx:
            viewer.require(Permission.SYSTEM_CONFIG)
            _check_model(provider, max_tokens, temperature)
            name = v.text(name, "name", max_length=100)
            if await tx.uow.ai_models.find_one(name=name):
                raise Conflict(f"a model configuration named {name!r} exists")
            now = tx.now()
            config = AiModelConfig(
                name=name,
                provider=provider,
                model=v.text(model, "model", max_length=100),
                base_url=v.text(base_url, "baseUrl", max_length=500, required=False),
                api_key_encrypted=self.secrets.encrypt(api_key) if api_key else None,
                max_tokens=max_tokens,
                temperature=temperature,
                is_default=is_default,
                created_at=now,
                updated_at=now,
            )
            if is_default:
                await tx.uow.lock(DEFAULT_LOCK)
                await self._clear_default(tx)
            tx.uow.ai_models.add(config)
            tx.audit("ai_model.create", "AiModelConfig", config.id, None, config)
        return config

    async def update_model(
        self,
        viewer: Viewer,
        config_id: uuid.UUID,
        *,
        model: str | None = None,
        base_url: object = UNSET,
        api_key: object = UNSET,
        max_tokens: int | None = None,
        temperature: float | None = None,
        is_default: bool | None = None,
    ) -> AiModelConfig:
        async with Tx(self.deps, viewer, "ai_model.update") as tx:
            viewer.require(Permission.SYSTEM_CONFIG)
            if is_default:
                await tx.uow.lock(DEFAULT_LOCK)
            config = await load(tx.uow.ai_models, "AiModelConfig", config_id, for_update=True)
            before = snapshot(config)
            apply_changes(
                config,
                {
                    "model": model,
                    "base_url": base_url,
                    "api_key_encrypted": api_key,
                    "max_tokens": max_tokens,
                    "temperature": temperature,
                },
                {
                    "model": lambda x: v.text(x, "model", max_length=100),
                    "base_url": lambda x: v.text(x, "baseUrl", max_length=500, required=False),
                    "api_key_encrypted": lambda x: self.secrets.encrypt(x) if x else None,
                },
                nullable={"base_url", "api_key_encrypted"},
            )
            _check_model(config.provider, config.max_tokens, config.temperature)
            if is_default:
                await self._clear_default(tx)
            if is_default is not None:
                config.is_default = is_default
            config.updated_at = tx.now()
            tx.audit("ai_model.update", "AiModelConfig", config.id, before, config)
        return config

    async def delete_model(self, viewer: Viewer, config_id: uuid.UUID) -> uuid.UUID:
        async with Tx(self.deps, viewer, "ai_model.delete") as tx:
            viewer.require(Permission.SYSTEM_CONFIG)
            config = await load(tx.uow.ai_models, "AiModelConfig", config_id, for_update=True)
            tx.audit("ai_model.delete", "AiModelConfig", config.id, config, None)
            await tx.uow.ai_models.delete(config)
        return config_id

    @staticmethod
    async def _clear_default(tx: Tx) -> None:
        for other in await tx.uow.ai_models.find(is_default=True):
            other.is_default = False

    async def save_prompt(
        self, viewer: Viewer, *, identifier: str, category: str, content: str, variables: list[str]
    ) -> PromptTemplate:
        """Create or replace the template `identifier` (e.g. `prd.default`, used by the `prd` step)."""
        async with Tx(self.deps, viewer, "prompt.save") as tx:
            viewer.require(Permission.SYSTEM_CONFIG)
            identifier = v.text(identifier, "identifier", max_length=100)
            if category not in STEPS:
                raise InvalidInput(f"category must be one of {', '.join(STEPS)}", field="category")
            content = v.text(content, "content", max_length=50_000)
            variables = v.string_list(variables, "variables", max_items=30, max_length=50)
            check_template(content, variables)
            now = tx.now()
            await tx.uow.lock(f"prompt_templates:{identifier}")  # two saves at once: the second replaces the first
            template = await tx.uow.prompts.find_one(identifier=identifier)
            before = snapshot(template) if template else None
            if template is None:
                template = PromptTemplate(
                    identifier=identifier,
                    category=category,
                    content=content,
                    variables=variables,
                    created_at=now,
                    updated_at=now,
                )
                tx.uow.prompts.add(template)
            else:
                template.category, template.content, template.variables = category, content, variables
                template.updated_at = now
            tx.audit("prompt.save", "PromptTemplate", template.id, before, template)
        return template

    async def delete_prompt(self, viewer: Viewer, identifier: str) -> str:
        async with Tx(self.deps, viewer, "prompt.delete") as tx:
            viewer.require(Permission.SYSTEM_CONFIG)
            await tx.uow.lock(f"prompt_templates:{identifier}")
            template = await tx.uow.prompts.find_one(identifier=identifier)
            if template is None:
                raise InvalidInput(f"no prompt template {identifier!r}", field="identifier")
            tx.audit("prompt.delete", "PromptTemplate", template.id, template, None)
            await tx.uow.prompts.delete(template)
        return identifier
