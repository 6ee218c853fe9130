"""The engine's pool: a connection goes back clean; PostgreSQL's are checked only after a rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, text

from storage import db as db_module
from storage.db import Database
from storage.models import User


async def test_a_transaction_left_open_below_sqlalchemy_is_rolled_back_on_return(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}")
    try:
        await db.upgrade()

        def write_behind_sqlalchemys_back(sync: Connection) -> bool:
            cursor = sync.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(
                "INSERT INTO users (id, display_name, role, banned, created_at) "
                "VALUES (1, 'Ghost', 'member', 0, '2026-01-01 00:00:00')"
            )
            driver = sync.connection.driver_connection
            return bool(driver is not None and driver.in_transaction)

        async with db.engine.connect() as conn:
            assert await conn.run_sync(write_behind_sqlalchemys_back)
        async with db.transaction() as session:  # would wait on the lock if it were kept
            assert await session.scalar(select(func.count()).select_from(User)) == 0
            session.add(User(id=2, display_name="Ada"))
        async with db.sessions() as session:
            assert list(await session.scalars(select(User.id))) == [2]
    finally:
        await db.dispose()


async def backend_and_queries(db: Database, sent: list[str]) -> int:
    """Run one statement on a pooled connection, noting in `sent` what asyncpg sent on it
    from then on; returns the connection's server process id."""
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        if not raw.info.get("logged"):
            driver.add_query_logger(lambda query: sent.append(query.query))
            raw.info["logged"] = True
        return int(await conn.scalar(text("SELECT pg_backend_pid()")) or 0)


async def test_a_connection_used_moments_ago_is_not_pinged(postgres_url: str) -> None:
    db = Database(postgres_url, pool_size=1, max_overflow=0)
    sent: list[str] = []
    try:
        first = await backend_and_queries(db, sent)
        sent.clear()
        assert await backend_and_queries(db, sent) == first  # the same pooled connection
        assert ";" not in sent  # no ping (an empty query) before it
    finally:
        await db.dispose()


async def test_a_rested_connection_the_server_dropped_is_replaced_unnoticed(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(postgres_url, pool_size=1, max_overflow=0)
    admin = Database(postgres_url)
    try:
        first = await backend_and_queries(db, [])
        async with admin.engine.connect() as conn:  # the server drops it while it rests
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE", 0.0)  # it has rested long enough
        second = await backend_and_queries(db, [])
        assert second not in (0, first)
    finally:
        await db.dispose()
        await admin.dispose()
