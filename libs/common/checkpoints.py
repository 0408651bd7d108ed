"""SQLite's WAL checkpoints in a thread of their own, off the writers' path.

SQLite copies the write-ahead log back into the database file (a checkpoint) in whichever
connection commits past `wal_autocheckpoint` pages (1,000 by default), inside that writer's
commit and so inside the process's one writer turn. A checkpointer thread with a connection of
its own does it instead, a PASSIVE checkpoint soon after writers commit (never waiting for a
lock, never blocking a reader or a writer), while the writers' own autocheckpoint stays as the
fallback at `FALLBACK_PAGES`. The thread runs in SQLite's C code with the interpreter's lock
released, so on a second core the copying costs the writers nothing.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from libs.common.sqlite_file import sqlite_file

log = structlog.get_logger(__name__)

#: The writers' own autocheckpoint, only reached when the checkpointer falls behind (or a
#: reader keeps it from finishing): 16,384 pages of 4 KiB, 64 MiB of log.
FALLBACK_PAGES = 16_384


class WalCheckpointer:
    """PASSIVE checkpoints of one SQLite database file, at most every `every` seconds while
    write transactions commit, in a daemon thread started by the first (`attach`)."""

    def __init__(self, path: str, every: float = 0.1) -> None:
        self.path = path
        self.every = every
        self.checkpoints = 0  # how many ran (for tests and the curious)
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    @classmethod
    def attach(cls, engine: AsyncEngine) -> WalCheckpointer | None:
        """A checkpointer for the engine's SQLite file, its connections' own autocheckpoint
        moved to the fallback; None for PostgreSQL and in-memory databases."""
        path = sqlite_file(engine.url)
        if path is None:
            return None
        checkpointer = cls(path)

        @event.listens_for(engine.sync_engine, "connect")
        def fallback(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")
            cursor.close()

        @event.listens_for(engine.sync_engine, "commit")
        def committed(conn: Any) -> None:
            # a read-only session's commit wrote nothing (an API process serving GETs alone
            # would otherwise wake the thread ten times a second for nothing)
            if not conn.get_execution_options().get("pb_readonly", False):
                checkpointer.committed()

        return checkpointer

    def committed(self) -> None:
        """A transaction committed: checkpoint soon."""
        if self._thread is None:
            with self._starting:
                if self._thread is None and not self._stopping:
                    self._thread = threading.Thread(
                        target=self._run, name=f"wal-checkpoints {self.path}", daemon=True
                    )
                    self._thread.start()
        self._wanted.set()

    @property
    def running(self) -> bool:
        """Whether its thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """End the thread after the checkpoint it may be running (blocks until then)."""
        self._stopping = True
        self._wanted.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, timeout=0)
        try:
            while True:
                self._wanted.wait()
                if self._stopping:
                    return
                self._wanted.clear()
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as error:  # the writers' own fallback still holds
                    log.warning("wal checkpoint failed", path=self.path, error=str(error))
                time.sleep(self.every)
        finally:
            connection.close()
