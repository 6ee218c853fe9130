"""SQLite statements run on the event loop's own thread, with a busy handler that never blocks it.

aiosqlite sends every driver call (open a cursor, execute, fetch, close, commit) to its worker
thread and back: five round trips for one `/paper` query, each a queue put, a thread switch
under the GIL and a wake-up of the event loop. On this project's 2-core machines a whole
`/paper` lookup (query and card) costs 1.0-1.5 ms of CPU that way, 0.5-0.6 ms with the calls
run in place; a vote 3.3-4.8 ms against 1.6-2.1 ms (bench/bench_sqlite_inline.py). SQLite
works in microseconds, in memory and in the page cache, and in WAL mode readers never wait for
writers; so here each call runs where it is awaited. (A commit that fills the
WAL to its checkpoint size, 1,000 pages, also copies them back into the database file before
it returns: a few milliseconds, now and then.)

The one thing that may wait is taking the write lock while another connection (the publisher
process, an import, or another transaction of this process) holds it. SQLite's own busy handler
would sleep inside the call and freeze the event loop, so connections opened here have no busy
timeout: a statement that finds the database busy before its transaction holds anything is
retried after an `asyncio.sleep`, so everything else keeps running meanwhile, for up to
`BUSY_TIMEOUT` seconds in all, as SQLite's own handler would (then "database is locked", as
before). A statement that finds it busy after its transaction began cannot be retried (that
transaction already read or wrote) and fails at once; in WAL mode with sqlite3's implicit
transactions (which begin at the first write) that does not happen, as the first write is
where the lock is taken. A retry assumes the refused call did nothing, which holds for a
statement's first step, where SQLite takes its locks (and, in WAL mode, the only step that
can find the database busy).

Built on aiosqlite (SQLAlchemy's ``sqlite+aiosqlite`` dialect drives it unchanged): only the
step that hands a call to the thread differs. Opening a connection still uses aiosqlite's
thread; closing runs here, and then stops the thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from itertools import chain, repeat
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")

BUSY_TIMEOUT = 30.0  # seconds a statement may wait for the write lock
# SQLite's own busy handler waits 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms, then 100s.
BUSY_DELAYS = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.025, 0.025, 0.05, 0.05, 0.1)


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds a lock (SQLITE_BUSY, any kind)."""
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose statements run on the calling (event loop) thread."""

    async def _execute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` now; on a busy database before any lock is held, yield and try again."""
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        connection = self._connection
        waited = 0.0
        for delay in chain(BUSY_DELAYS, repeat(BUSY_DELAYS[-1])):
            in_transaction = connection.in_transaction
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if in_transaction or not is_busy(exc) or waited >= BUSY_TIMEOUT:
                    raise
            if connection.in_transaction:  # the BEGIN sqlite3 issued for this statement
                connection.rollback()
            await asyncio.sleep(delay)
            waited += delay
        raise AssertionError("unreachable")  # the delays never run out


def connect(database: str | Path, *, iter_chunk_size: int = 64, **kwargs: Any) -> InlineConnection:
    """`aiosqlite.connect` for `InlineConnection` (SQLAlchemy's ``async_creator_fn``).

    SQLite's own busy timeout is off (see the module's docstring), and the connection may be
    used from the loop's thread though aiosqlite's thread opens it.
    """
    kwargs.update(timeout=0, check_same_thread=False)

    def connector() -> sqlite3.Connection:
        opened: sqlite3.Connection = sqlite3.connect(str(database), **kwargs)
        return opened

    connection = InlineConnection(connector, iter_chunk_size)
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connections
    return connection
