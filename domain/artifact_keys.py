"""Content-addressed keys of stored artifacts: `sha256/<first two hex>/<full hex digest>`."""

from __future__ import annotations

import hashlib
import re

from domain.errors import InvalidInput

KEY = re.compile(r"^sha256/([0-9a-f]{2})/([0-9a-f]{64})\Z")


def key_for(content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()
    return f"sha256/{digest[:2]}/{digest}"


def check_key(key: str) -> str:
    """The key's digest; refuses anything not of the key's exact form (guards path traversal)."""
    match = KEY.fullmatch(key)
    if match is None or match.group(2)[:2] != match.group(1):
        raise InvalidInput(f"artifact key {key!r} is not of the form sha256/<xx>/<64 hex digits>", field="key")
    return match.group(2)
