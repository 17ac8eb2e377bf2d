"""Relay global ids and opaque cursors."""

from __future__ import annotations

import base64
import binascii
import uuid

from domain.errors import InvalidInput

CURSOR_PREFIX = "offset:"


def to_global_id(type_name: str, raw_id: uuid.UUID | str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{raw_id}".encode()).decode().rstrip("=")


def from_global_id(global_id: str, field: str = "id") -> tuple[str, uuid.UUID]:
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, raw = base64.urlsafe_b64decode(padded.encode()).decode().split(":", 1)
        return type_name, uuid.UUID(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{field} {global_id!r} is not a valid id", field=field) from exc


def decode_id(global_id: str, expected_type: str, field: str) -> uuid.UUID:
    """The UUID inside a global id, which must name `expected_type`."""
    type_name, raw = from_global_id(global_id, field)
    if type_name != expected_type:
        raise InvalidInput(f"{field} must be a {expected_type} id, got a {type_name} id", field=field)
    return raw


def decode_optional(global_id: str | None, expected_type: str, field: str) -> uuid.UUID | None:
    return None if global_id is None else decode_id(global_id, expected_type, field)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str | None, field: str) -> int | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith(CURSOR_PREFIX):
            raise ValueError(text)
        offset = int(text[len(CURSOR_PREFIX) :])
        if offset < 0:
            raise ValueError(text)
        return offset
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{field} is not a valid cursor", field=field) from exc
