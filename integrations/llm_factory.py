"""Chooses the LLM adapter per model configuration: Anthropic when configured with a key, else offline."""

from __future__ import annotations

from dataclasses import dataclass

from domain.model import AiModelConfig
from domain.ports import LLM
from integrations.llm_anthropic import AnthropicPool
from integrations.llm_offline import OfflineLLM


@dataclass(frozen=True)
class AnthropicDefaults:
    api_key: str | None
    model: str
    base_url: str | None
    max_tokens: int


class ConfiguredLLMFactory:
    """The deployment's default applies when no stored configuration is marked default."""

    def __init__(self, pool: AnthropicPool, defaults: AnthropicDefaults):
        self.pool = pool
        self.defaults = defaults
        self.offline = OfflineLLM()

    def create(self, config: AiModelConfig | None, api_key: str | None) -> LLM:
        d = self.defaults
        if config is None:
            if d.api_key:
                return self.pool.llm(d.api_key, d.model, d.base_url, max_tokens=d.max_tokens)
            return self.offline
        if config.provider == "offline":
            return self.offline
        return self.pool.llm(
            api_key or d.api_key or "", config.model, config.base_url or d.base_url, max_tokens=config.max_tokens
        )
