"""Estimated model cost: family prices by longest prefix, micro-dollar rounding, unknown models at 0 and logged."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from domain.ai_cost import estimate_cost, price_for


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4"),
        ("claude-opus-4-5-20251101", "claude-opus-4-5"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-opus-5-5", "claude-opus-5-5"),
        ("claude-opus-5", "claude-opus-5"),
        ("claude-3-5-haiku@20241022", "claude-3-5-haiku"),
        ("Claude-Haiku-4-5", "claude-haiku-4-5"),
    ],
)
def test_a_model_is_priced_by_its_longest_family_prefix(model, family):
    assert price_for(model).family == family


def test_cost_is_input_and_output_tokens_at_their_own_rates():
    # Sonnet 4.x: $3 in, $15 out per million tokens
    assert estimate_cost("claude-sonnet-4-6", 1_000_000, 0) == Decimal(3)
    assert estimate_cost("claude-sonnet-4-6", 2_000, 500) == Decimal("0.013500")
    assert estimate_cost("claude-opus-4-1", 1_000, 1_000) == Decimal("0.090000")


def test_cost_is_rounded_to_the_micro_dollar_the_jobs_table_stores():
    assert estimate_cost("claude-3-haiku-20240307", 1, 1) == Decimal("0.000002")
    assert estimate_cost("claude-3-haiku-20240307", 1, 1).as_tuple().exponent == -6


def test_a_prefix_must_end_at_a_version_boundary():
    assert price_for("claude-opus-50") is None
    assert price_for("claude-sonnet") is None


def test_an_unknown_model_costs_zero_and_says_so_once(caplog):
    with caplog.at_level(logging.WARNING, logger="domain.ai_cost"):
        assert estimate_cost("gpt-unknown-test-model", 10_000, 10_000) == Decimal(0)
        assert estimate_cost("gpt-unknown-test-model", 5, 5) == Decimal(0)
    assert price_for("gpt-unknown-test-model") is None
    assert [r.getMessage() for r in caplog.records] == [
        "no price known for model 'gpt-unknown-test-model': its usage is recorded at cost 0"
    ]


def test_negative_token_counts_are_refused():
    with pytest.raises(ValueError, match="token counts cannot be negative: input -1, output 0"):
        estimate_cost("claude-opus-5", -1, 0)
