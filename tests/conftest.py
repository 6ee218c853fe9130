"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured), fake arXiv.

``SHORTSCI_TEST_DATABASE_URL`` names a PostgreSQL database the suite may wipe: its schema
is recreated and migrated once per run, and every table is emptied before each test.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.catalog.arxiv_source import ArxivSource
from storage.catalog.service import Catalog
from storage.db import Database
from storage.models import Base
from tests.fakes.arxiv import FakeArxiv

POSTGRES_URL = os.environ.get("SHORTSCI_TEST_DATABASE_URL")

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _async_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"postgresql+asyncpg://{rest}" if scheme.startswith("postgres") else url


async def _reset_postgres(url: str) -> None:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await db.upgrade()
    await db.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated, empty PostgreSQL database for this run (skips when none is configured)."""
    if not POSTGRES_URL:
        pytest.skip("SHORTSCI_TEST_DATABASE_URL is not set")
    url = _async_url(POSTGRES_URL)
    asyncio.run(_reset_postgres(url))
    yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh database of each backend (SQLite file, or emptied PostgreSQL)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'shortsci.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated, empty `Database` on each backend."""
    database = Database(database_url)
    if database.dialect == "sqlite":
        await database.upgrade()
    else:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with database.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield database
    await database.dispose()


@pytest.fixture
def fake_arxiv() -> Iterator[FakeArxiv]:
    """A local arXiv API with the recorded corpus and the seed's papers."""
    with FakeArxiv() as fake:
        yield fake


@pytest.fixture
def arxiv_source(fake_arxiv: FakeArxiv) -> Iterator[ArxivSource]:
    """An `ArxivSource` aimed at the fake, with no rate-limit delay and a short timeout."""
    source = ArxivSource(fake_arxiv.url, timeout=1.0, delay_seconds=0.0)
    yield source
    source.close()


@pytest.fixture
def catalog(db: Database, arxiv_source: ArxivSource) -> Catalog:
    """The catalog over the test database and the fake arXiv."""
    return Catalog(db, arxiv_source)
