"""Directories the test sandbox's user (nobody, when the tests run as root) may traverse, as a checkout's `var/` is."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def reachable_dir(prefix: str) -> Iterator[Path]:
    """A fresh directory under the system temp dir whose path the sandbox user may traverse."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
