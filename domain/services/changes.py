"""Applying an update's provided fields to an entity, each through its check."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from domain.validation import UNSET


def apply_changes(
    entity: object,
    changes: Mapping[str, object],
    checks: Mapping[str, Callable[[Any], object]] | None = None,
    *,
    nullable: Collection[str] = (),
) -> None:
    """Set each changed field of `entity` to its checked value (unchecked fields as given).

    UNSET leaves a field as it is; so does None, except for a `nullable` field, which None clears (through its check).
    """
    checks = checks or {}
    for name, value in changes.items():
        if value is UNSET or (value is None and name not in nullable):
            continue
        check = checks.get(name)
        setattr(entity, name, check(value) if check else value)
