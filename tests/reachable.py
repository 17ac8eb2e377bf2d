"""Directories the test sandbox's user (nobody, when the tests run as root) may traverse, as a checkout's `var/` is."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def reachable_dir(prefix: str, parent: Path | None = None) -> Iterator[Path]:
    """A fresh directory under `parent` (default: the system temp dir) whose path the sandbox user may traverse."""
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
