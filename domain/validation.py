"""Input checks shared by services; each failure names the offending field."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from domain.errors import InvalidInput


def text(value: str | None, field: str, *, max_length: int, required: bool = True) -> str | None:
    if value is None:
        if required:
            raise InvalidInput(f"{field} is required", field=field)
        return None
    stripped = value.strip()
    if required and not stripped:
        raise InvalidInput(f"{field} must not be blank", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"{field} is {len(value)} characters; at most {max_length} allowed", field=field)
    return stripped


def hours(value: float | Decimal | None, field: str) -> Decimal | None:
    if value is None:
        return None
    try:
        d = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise InvalidInput(f"{field} is not a number", field=field) from exc
    if not Decimal(0) <= d <= Decimal("999.99"):
        raise InvalidInput(f"{field} must be between 0 and 999.99", field=field)
    return d


def date_range(start: date | None, end: date | None, field: str = "endDate") -> None:
    if start and end and end < start:
        raise InvalidInput(f"{field} {end} is before start date {start}", field=field)


def string_list(values: list[str] | None, field: str, *, max_items: int = 50, max_length: int = 100) -> list[str]:
    values = values or []
    if len(values) > max_items:
        raise InvalidInput(f"{field} has {len(values)} items; at most {max_items} allowed", field=field)
    for v in values:
        text(v, field, max_length=max_length)
    return [v.strip() for v in values]
