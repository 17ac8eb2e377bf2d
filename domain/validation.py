"""Input checks shared by services; each failure names the offending field."""

from __future__ import annotations

import enum
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal, TypeVar, overload

from domain.errors import InvalidInput

T = TypeVar("T")


class Unset(enum.Enum):
    """The type of UNSET, so that `x is not UNSET` narrows `T | Unset | None` to `T | None`."""

    UNSET = "UNSET"


UNSET = Unset.UNSET  # an update's argument that was not given, where None is a value (clear the field)
# Widths of columns that hold a client's text, shared with persistence/tables.py so the two cannot disagree.
FILE_PATH_LENGTH = 500
FILE_NAME_LENGTH = 200
REQUEST_ID_LENGTH = 64  # the audit log's request id: a client's X-Request-ID, a job's or a webhook delivery's
CLIENT_ADDRESS_LENGTH = 64  # the audit log's client address
# Characters no database stores in text or JSON: NUL (PostgreSQL) and lone surrogates (not UTF-8).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@overload
def text(value: str | None, field: str, *, max_length: int, required: Literal[True] = True) -> str: ...
@overload
def text(value: str | None, field: str, *, max_length: int, required: bool) -> str | None: ...
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


def lowercase(value: str | None, field: str, *, max_length: int) -> str:
    """`text`, lowercased before its length is checked: lowercasing can lengthen a string ("İ" becomes two
    characters)."""
    return text(value.lower() if value is not None else None, field, max_length=max_length)


@overload
def hours(value: float | Decimal, field: str) -> Decimal: ...
@overload
def hours(value: float | Decimal | None, field: str) -> Decimal | None: ...
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


def instant(value: datetime | None, field: str) -> datetime | None:
    """A point in time with its zone, that every database can store (years 1 to 9999 in UTC)."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field} needs a time zone, e.g. 2026-01-31T12:00:00Z", field=field)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInput(f"{field} is out of range (years 1 to 9999 in UTC)", field=field) from exc


def date_range(start: date | None, end: date | None, field: str = "endDate") -> None:
    if start and end and end < start:
        raise InvalidInput(f"{field} {end} is before start date {start}", field=field)


def at_most(values: list[T], field: str, max_items: int) -> list[T]:
    if len(values) > max_items:
        raise InvalidInput(f"{field} has {len(values)} items; at most {max_items} allowed", field=field)
    return values


def string_list(values: list[str] | None, field: str, *, max_items: int = 50, max_length: int = 100) -> list[str]:
    for v in at_most(values or [], field, max_items):
        text(v, field, max_length=max_length)
    return [v.strip() for v in values or []]
