"""Password hashing with argon2 through pwdlib (the PasswordHasher port adapter)."""

from __future__ import annotations

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher


class Argon2PasswordHasher:
    def __init__(self) -> None:
        self._hash = PasswordHash((Argon2Hasher(),))

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify(self, password: str, password_hash: str) -> bool:
        """False for a wrong password, and for a stored hash no hasher knows (a disabled or foreign account)."""
        try:
            return self._hash.verify(password, password_hash)
        except UnknownHashError:
            return False
