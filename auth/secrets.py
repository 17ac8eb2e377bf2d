"""Secrets at rest (AI provider keys) encrypted with Fernet: the SecretBox port adapter."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from domain.errors import ServiceUnavailable


class FernetSecretBox:
    def __init__(self, key: str | bytes):
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ServiceUnavailable(
                "a stored secret cannot be decrypted with the configured RDFLOW_FERNET_KEY"
            ) from exc


def development_key(data_dir: Path) -> bytes:
    """Embedded mode keeps a generated key beside its database, created once, readable by the owner only."""
    path = data_dir / "fernet.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Fernet.generate_key())
        path.chmod(0o600)
    return path.read_bytes().strip()
