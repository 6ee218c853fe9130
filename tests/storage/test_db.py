"""The engine's pool: a connection goes back clean, with one hop to SQLite's thread fewer."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, func, select

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
