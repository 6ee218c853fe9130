"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured), fake arXiv.

``SHORTSCI_TEST_DATABASE_URL`` names a PostgreSQL server and database to connect to; each run
creates its own database beside it (so runs in parallel never meet), migrates it once,
empties every table before each test, and drops it at the end.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.catalog.arxiv_source import ArxivSource
from storage.catalog.crossref_source import CrossrefSource
from storage.catalog.service import Catalog
from storage.db import Database
from storage.models import Base
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.crossref import FakeCrossref

POSTGRES_URL = os.environ.get("SHORTSCI_TEST_DATABASE_URL")

CONTACT = "team@shortsci.example.org"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _async_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"postgresql+asyncpg://{rest}" if scheme.startswith("postgres") else url


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


async def _create_migrated(admin_url: str, url: str, name: str) -> None:
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    db = Database(url)
    await db.upgrade()
    await db.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database of this run's own (skips when none is configured)."""
    if not POSTGRES_URL:
        pytest.skip("SHORTSCI_TEST_DATABASE_URL is not set")
    admin = make_url(_async_url(POSTGRES_URL))
    name = f"{admin.database}_run_{os.getpid()}_{secrets.token_hex(3)}"
    url = admin.set(database=name).render_as_string(hide_password=False)
    admin_url = admin.render_as_string(hide_password=False)
    asyncio.run(_create_migrated(admin_url, url, name))
    yield url
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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


@pytest.fixture
def fake_crossref() -> Iterator[FakeCrossref]:
    """A local Crossref REST API with the recorded works and ours."""
    with FakeCrossref() as fake:
        yield fake


@pytest.fixture
async def crossref_source(fake_crossref: FakeCrossref) -> AsyncIterator[CrossrefSource]:
    """A `CrossrefSource` aimed at the fake, with a contact address and a short timeout."""
    source = CrossrefSource(fake_crossref.url, contact_email=CONTACT, timeout=1.0)
    yield source
    await source.aclose()


@pytest.fixture
def crossref_catalog(
    db: Database, arxiv_source: ArxivSource, crossref_source: CrossrefSource
) -> Catalog:
    """The catalog over the test database, the fake arXiv and the fake Crossref."""
    return Catalog(db, arxiv_source, crossref=crossref_source)
