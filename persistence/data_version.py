"""The data version without Redis (embedded): SQLite's own commit counter plus an in-process one.

`PRAGMA data_version`, read on one dedicated connection that never writes, changes whenever any other connection
commits to the same file: this process's pool, a `rdflow worker`, the CLI, another `rdflow serve` worker. That alone
would serve the file; the in-process counter (bumped after each of this process's commits) makes `bump()` keep its
contract where the pragma cannot see anything (an in-memory database) and when the dedicated connection had to be
reopened (a new connection's pragma starts over, so the counter moves too). The version is the pair.

The pragma is read synchronously on the event loop: it reads the WAL index in shared memory, microseconds, and the
connection waits for no lock (timeout 0): a busy database raises, and the caller skips the cache for that request.
"""

from __future__ import annotations

import sqlite3
import threading

from sqlalchemy.engine import make_url


def sqlite_file(database_url: str) -> str | None:
    """The file of a SQLite URL; None for another database or an in-memory one."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return url.database


class EmbeddedDataVersion:
    def __init__(self, path: str | None):
        self.path = path
        self._count = 0
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # a CLI or test may read it from another thread

    def _pragma(self) -> int:
        if self.path is None:
            return 0
        with self._lock:
            if self._connection is None:
                self._connection = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
                self._count += 1  # a new connection's data_version is not comparable with the old one's
            try:
                return int(self._connection.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error:
                self._connection.close()
                self._connection = None
                raise

    async def current(self) -> tuple[int, int]:
        value = self._pragma()
        return value, self._count

    async def bump(self) -> None:
        self._count += 1

    async def aclose(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
