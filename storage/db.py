"""Engines, sessions and migrations.

`Database` owns the async engine and the session factory. SQLite runs in WAL mode with foreign
keys on, its statements on the event loop's thread (`storage.sqlite_inline`); PostgreSQL uses
asyncpg. Migrations are Alembic's, run on start (`Database.upgrade`) and by
``shortsci db upgrade``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import PoolResetState

from storage import sqlite_inline

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_POOL_SIZE = 5
PING_AFTER_IDLE = 5.0  # seconds a pooled PostgreSQL connection may rest unchecked


# What storage functions run statements on: a Session (ORM unit of work) or a bare connection.
Executor = AsyncSession | AsyncConnection


def on_postgres(executor: Executor) -> bool:
    """Whether `executor` talks to PostgreSQL (else SQLite)."""
    bind = executor if isinstance(executor, AsyncConnection) else executor.bind
    return bind.dialect.name == "postgresql"


def insert_for(executor: Executor, table: Any) -> PgInsert | SqliteInsert:
    """`executor`'s dialect's INSERT into `table`, which has ``on_conflict_do_nothing``."""
    return (pg_insert if on_postgres(executor) else sqlite_insert)(table)


class DatabaseError(Exception):
    """The database could not be reached or used; the message is safe to show."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def json_text(value: Any) -> str:
    """JSON columns' text, non-ASCII as is (``Jürgen``, not ``J\\u00fcrgen``): searchable."""
    return json.dumps(value, ensure_ascii=False)


def _reset_if_open(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """The pool's rollback on return, only if a transaction is still open.

    Usually the Session has just committed or rolled back; SQLite knows it has no transaction,
    and asking it to roll back anyway costs a driver call per session.
    """
    usable = state.asyncio_safe and not state.terminate_only
    if usable and dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url`, with SQLite's pragmas set on every connection."""
    kwargs.setdefault("json_serializer", json_text)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
            # SQLite serialises writers anyway; a small pool keeps memory low (each
            # connection holds its own page cache) and callers wait their turn for one.
            kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
            kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_reset_on_return", None)  # `_reset_if_open` instead
        # Statements run on the event loop's thread; waits for the write lock yield to it.
        connect_args = {"async_creator_fn": sqlite_inline.connect}
        engine = create_async_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "reset", _reset_if_open)
        return engine
    engine = create_async_engine(url, **kwargs)
    for name, listener in (("connect", _rested), ("checkin", _rested), ("checkout", _ping_if_idle)):
        event.listen(engine.sync_engine, name, listener)
    return engine


def _rested(_dbapi_connection: Any, record: Any) -> None:
    """Note when a pooled connection was last known to work (made, or handed back)."""
    record.info["rested_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Check a PostgreSQL connection that rested `PING_AFTER_IDLE` seconds before handing it out.

    SQLAlchemy's `pool_pre_ping` checks on every checkout, and asyncpg's ping is three round
    trips (BEGIN, an empty query, ROLLBACK): 3.3 of a post's 5.2 in the publisher's drain. A
    connection used moments ago is trusted; if the server went away meanwhile, the statement
    fails, SQLAlchemy drops every older connection, and the next unit gets fresh ones.
    """
    if time.monotonic() - record.info.get("rested_since", 0.0) < PING_AFTER_IDLE:
        return
    try:
        dbapi_connection.ping()
    except Exception as exc:  # any failure: the pool retries with a new connection
        raise DisconnectionError("a pooled connection no longer answers") from exc


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, pointed at our migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


class Database:
    """The engine, the session factory, and the unit-of-work boundary."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    async def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to `revision`."""
        await self._alembic(lambda cfg: command.upgrade(cfg, revision))

    async def downgrade(self, revision: str) -> None:
        """Revert migrations down to `revision` (``base`` for an empty database)."""
        await self._alembic(lambda cfg: command.downgrade(cfg, revision))

    async def current_revision(self) -> str | None:
        """The revision the database is at, or None before the first migration."""
        async with self.engine.connect() as conn:
            exists = await conn.run_sync(
                lambda sync: sync.dialect.has_table(sync, "alembic_version")
            )
            if not exists:
                return None
            row = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return row.scalar_one_or_none()

    async def _alembic(self, action: Any) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.run_sync(lambda sync: action(alembic_config(sync)))
        except OSError as exc:
            raise DatabaseError(f"cannot reach the database: {exc.strerror or exc}") from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
