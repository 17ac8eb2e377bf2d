"""Estimated cost of a model call: list prices per model family, in USD per million tokens."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

log = logging.getLogger(__name__)

MILLION = Decimal(1_000_000)
MICRO_DOLLAR = Decimal("0.000001")  # the jobs.cost_usd column's scale


@dataclass(frozen=True)
class ModelPrice:
    family: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal


def _price(family: str, input_usd: str, output_usd: str) -> ModelPrice:
    return ModelPrice(family, Decimal(input_usd), Decimal(output_usd))


# Anthropic's published list prices (no batch or cache discounts). A model id matches the
# longest family prefix followed by nothing, "-" (version or date) or "@" (Vertex ids), so a new
# minor version inherits its family's price until it is listed here.
PRICES: tuple[ModelPrice, ...] = (
    _price("claude-fable-5", "10", "50"),
    _price("claude-mythos-5", "10", "50"),
    _price("claude-opus-5-5", "4", "20"),
    _price("claude-opus-5", "5", "25"),
    _price("claude-opus-4-8", "5", "25"),
    _price("claude-opus-4-7", "5", "25"),
    _price("claude-opus-4-6", "5", "25"),
    _price("claude-opus-4-5", "5", "25"),
    _price("claude-opus-4-1", "15", "75"),
    _price("claude-opus-4", "15", "75"),
    _price("claude-3-opus", "15", "75"),
    _price("claude-sonnet-5", "2", "10"),
    _price("claude-sonnet-4", "3", "15"),
    _price("claude-3-7-sonnet", "3", "15"),
    _price("claude-3-5-sonnet", "3", "15"),
    _price("claude-haiku-4-5", "1", "5"),
    _price("claude-3-5-haiku", "0.80", "4"),
    _price("claude-3-haiku", "0.25", "1.25"),
)


def _of_family(model: str, family: str) -> bool:
    return model == family or (model.startswith(family) and model[len(family)] in "-@")


def price_for(model: str) -> ModelPrice | None:
    """The price of `model`'s family, or None when the model is not in the table."""
    model = model.strip().lower()
    return max((p for p in PRICES if _of_family(model, p.family)), key=lambda p: len(p.family), default=None)


@lru_cache(maxsize=64)
def _warn_unpriced(model: str) -> None:
    log.warning("no price known for model %r: its usage is recorded at cost 0", model)


def estimate_cost(model: str, input_tokens: int, output_tokens: int) -> Decimal:
    """USD cost of one call; 0 for a model without a known price (logged once per model)."""
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError(f"token counts cannot be negative: input {input_tokens}, output {output_tokens}")
    price = price_for(model)
    if price is None:
        _warn_unpriced(model)
        return Decimal(0)
    cost = (price.input_per_mtok * input_tokens + price.output_per_mtok * output_tokens) / MILLION
    return cost.quantize(MICRO_DOLLAR, rounding=ROUND_HALF_UP)
