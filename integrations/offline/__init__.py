"""The offline AI provider's step implementations: rule-based, deterministic, no network."""
