"""The AI pipeline's step contracts: output schemas, context keys, prompts and output checks (framework-free)."""
