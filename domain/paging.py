"""Listing value objects: filters, ordering and Relay-style page windows by offset."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Generic, TypeVar

from domain.enums import Priority, SortDirection
from domain.errors import InvalidInput

T = TypeVar("T")

MAX_PAGE_SIZE = 100
# No list reaches this many rows; a cursor beyond it is forged, and would overflow the databases' integers.
MAX_OFFSET = 2**31 - 1
UNCOUNTED = -1  # Page.total of a page whose listing skipped its COUNT (ListQuery.rows_only)

# Columns sorted by their enum's declaration order (its rank), not alphabetically.
RANKED_COLUMNS: Mapping[str, tuple[Enum, ...]] = {"priority": tuple(Priority)}


@dataclass(frozen=True)
class PageRequest:
    """first/after/last/before with cursors already decoded to row offsets. A page never holds more than
    MAX_PAGE_SIZE rows: with neither first nor last it is the first MAX_PAGE_SIZE rows the cursors leave."""

    first: int | None = None
    after: int | None = None
    last: int | None = None
    before: int | None = None

    def __post_init__(self) -> None:
        for name in ("first", "last"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
                raise InvalidInput(f"{name} must be between 0 and {MAX_PAGE_SIZE}", field=name)
        if self.first is not None and self.last is not None:
            raise InvalidInput("pass either first or last, not both", field="last")
        for name in ("after", "before"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= MAX_OFFSET:
                raise InvalidInput(f"{name} is not a valid cursor", field=name)

    @property
    def size(self) -> int:
        """Rows asked for: `first`, else `last`, else the page cap."""
        if self.first is not None:
            return self.first
        return self.last if self.last is not None else MAX_PAGE_SIZE


@dataclass(frozen=True)
class ListQuery:
    """What to list: equality filters (hashable), an ordering, and a page window."""

    filters: tuple[tuple[str, Any], ...] = ()
    order_by: str = "created_at"
    direction: SortDirection = SortDirection.ASC
    page: PageRequest = field(default_factory=PageRequest)
    member_id: Any = None  # restrict to projects this user is a member of; None = no restriction
    # The caller reads the rows and their cursors only (a connection asked for neither totalCount nor pageInfo): a
    # forward page then skips its COUNT, and its Page's total and has_previous/has_next are not known (UNCOUNTED).
    rows_only: bool = False

    def scoped_to(self, member_id: Any) -> ListQuery:
        return replace(self, member_id=member_id)


@dataclass
class Page(Generic[T]):
    items: list[T]
    offsets: list[int]
    total: int
    has_previous: bool
    has_next: bool

    @classmethod
    def empty(cls) -> Page[T]:
        return cls([], [], 0, False, False)

    @classmethod
    def uncounted(cls, items: list[T], offsets: list[int]) -> Page[T]:
        """The rows of a `rows_only` listing: its total and neighbours were not asked for, so not counted."""
        return cls(items, offsets, UNCOUNTED, False, False)

    @classmethod
    def counted(cls, total: int) -> Page[T]:
        """A page read for its total only (a connection asked for nothing but `totalCount`): no rows, no cursors."""
        return cls([], [], total, False, False)


@dataclass(frozen=True)
class Between:
    """A range filter value: low <= column <= high, either bound optional."""

    low: Any = None
    high: Any = None
