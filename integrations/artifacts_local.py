"""The embedded-mode artifact store: content-addressed files under a local directory."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from domain.artifact_keys import check_key, key_for
from domain.errors import NotFound, ServiceUnavailable


class LocalArtifactStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root / key

    def _write(self, path: Path, content: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    async def put(self, content: bytes, *, content_type: str = "text/plain") -> str:
        key = key_for(content)
        path = self._path(key)
        if not path.exists():
            await asyncio.to_thread(self._write, path, content)
        return key

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            content = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise NotFound("Artifact content", key) from exc
        if hashlib.sha256(content).hexdigest() != check_key(key):
            raise ServiceUnavailable(f"stored artifact {key} is corrupt (checksum mismatch)")
        return content

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).exists)
