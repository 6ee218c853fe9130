"""SQLite on the event loop's thread: statements run inline, and lock waits yield to the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import OperationalError

from storage import sqlite_inline
from storage.db import Database
from storage.models import User


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite file database."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    await db.upgrade()
    yield db
    await db.dispose()


def member(user_id: int) -> dict[str, object]:
    """A users row."""
    return {"id": user_id, "display_name": f"User {user_id}", "role": "member", "banned": False}


async def count_users(db: Database) -> int:
    """How many users are stored."""
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(User)) or 0)


class Ticker:
    """Counts how often the event loop let it run, every 5 ms, until stopped."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.005)
            self.ticks += 1

    def stop(self) -> None:
        self._task.cancel()


async def test_statements_run_on_the_event_loops_thread(sqlite_db: Database) -> None:
    seen: list[int] = []

    @event.listens_for(sqlite_db.engine.sync_engine, "connect")
    def add_function(dbapi_connection: object, _record: object) -> None:
        driver = dbapi_connection.driver_connection  # type: ignore[attr-defined]
        driver._conn.create_function("thread_id", 0, lambda: seen.append(threading.get_ident()))

    await sqlite_db.engine.dispose()  # new connections, with the function
    async with sqlite_db.engine.connect() as conn:
        await conn.exec_driver_sql("SELECT thread_id()")
    assert seen == [threading.get_ident()]


async def test_a_write_waits_for_another_process_lock_without_blocking_the_loop(
    sqlite_db: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None)  # like the publisher
    other.execute("BEGIN IMMEDIATE")  # holds the write lock
    ticker = Ticker()
    try:

        async def write() -> None:
            async with sqlite_db.transaction() as session:
                await session.execute(insert(User), [member(1)])

        writing = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not writing.done()  # waiting for the lock...
        assert ticker.ticks >= 10  # ...while the loop kept running everything else
        other.execute("COMMIT")
        await asyncio.wait_for(writing, timeout=5)
    finally:
        ticker.stop()
        other.close()
    assert await count_users(sqlite_db) == 1


async def test_reads_do_not_wait_for_a_writer(sqlite_db: Database, tmp_path: Path) -> None:
    async with sqlite_db.transaction() as session:
        await session.execute(insert(User), [member(1)])
    other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("DELETE FROM users")  # not committed: readers still see the user (WAL)
    try:
        assert await asyncio.wait_for(count_users(sqlite_db), timeout=1) == 1
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_a_lock_held_too_long_fails_as_database_is_locked(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_inline, "BUSY_TIMEOUT", 0.2)
    other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticker = Ticker()
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            async with sqlite_db.transaction() as session:
                await session.execute(insert(User), [member(1)])
        assert ticker.ticks >= 10  # it waited, cooperatively, about BUSY_TIMEOUT
    finally:
        ticker.stop()
        other.execute("ROLLBACK")
        other.close()
    assert await count_users(sqlite_db) == 0


async def test_a_transaction_paused_holding_the_lock_does_not_deadlock_another(
    sqlite_db: Database,
) -> None:
    order: list[str] = []

    async def slow_writer() -> None:
        async with sqlite_db.transaction() as session:
            await session.execute(insert(User), [member(1)])  # now holds the write lock
            await asyncio.sleep(0.2)  # e.g. waiting for the network inside the transaction
            order.append("slow committed")

    async def quick_writer() -> None:
        await asyncio.sleep(0.05)
        async with sqlite_db.transaction() as session:
            await session.execute(insert(User), [member(2)])
        order.append("quick committed")

    await asyncio.wait_for(asyncio.gather(slow_writer(), quick_writer()), timeout=10)
    assert order == ["slow committed", "quick committed"]
    assert await count_users(sqlite_db) == 2


async def test_other_errors_fail_at_once(sqlite_db: Database) -> None:
    calls: list[int] = []

    def boom() -> None:
        calls.append(1)
        raise ValueError("not a lock")

    @event.listens_for(sqlite_db.engine.sync_engine, "connect")
    def add_function(dbapi_connection: object, _record: object) -> None:
        driver = dbapi_connection.driver_connection  # type: ignore[attr-defined]
        driver._conn.create_function("boom", 0, boom)

    await sqlite_db.engine.dispose()
    with pytest.raises(OperationalError, match="user-defined function raised exception"):
        async with sqlite_db.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT boom()")
    assert calls == [1]  # run once, not retried
